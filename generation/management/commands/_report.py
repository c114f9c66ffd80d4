def print_import_report(command, report, *, shown_skips: int = 20) -> None:
    style = command.style
    command.stdout.write(
        style.SUCCESS(
            f"{report.dataset}: {report.pieces} pieces from {report.sources} files "
            f"({report.cache_hits} from the parse cache) in {report.seconds:.1f}s"
        )
    )
    if report.skipped:
        command.stdout.write(style.WARNING(f"{len(report.skipped)} skipped:"))
        for item in report.skipped[:shown_skips]:
            command.stdout.write(f"  {item['source']}: {item['reason']}")
        if len(report.skipped) > shown_skips:
            command.stdout.write(
                f"  ... and {len(report.skipped) - shown_skips} more (see the dataset page)"
            )
