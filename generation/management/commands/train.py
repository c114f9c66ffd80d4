import argparse
import os
import subprocess
import sys
from pathlib import Path

import torch
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from generation.management.commands._model_arguments import (
    add_device_argument,
    add_model_arguments,
    datasets_named,
    model_configuration,
)
from generation.management.commands._progress import ProgressBar
from generation.models import TRANSFER_KINDS, Checkpoint, TrainingRun
from generation.services.training import (
    create_run,
    device_for,
    families,
    read_resume_point,
    train,
)
from generation.zoo.trainer import Shard


class Command(BaseCommand):
    help = (
        "Train a model family on a dataset's train split, evaluating on its valid split and "
        "keeping checkpoints. Example: train --model melody-rnn --config attention "
        "--dataset bach-chorales --steps 2000"
    )

    def add_arguments(self, parser):
        add_model_arguments(parser, required=False)
        parser.add_argument(
            "--list", action="store_true", help="list families, configs and presets"
        )
        parser.add_argument(
            "--from-checkpoint",
            type=int,
            metavar="PK",
            help="transfer learning: continue this checkpoint on the given dataset(s)",
        )
        add_device_argument(parser)
        parser.add_argument(
            "--resume",
            type=int,
            metavar="RUN",
            help="go on with a run whose process was killed, from its last checkpoint "
            "(it ends with the weights it would have had unbroken)",
        )
        parser.add_argument(
            "--nproc",
            type=int,
            default=1,
            metavar="N",
            help="data-parallel training in N processes (PyTorch DistributedDataParallel under "
            "torchrun: gloo on the CPU, NCCL with one GPU each); the batch is split between them",
        )
        # What each of those processes runs (torchrun starts them): rank 0 records the run.
        parser.add_argument("--distributed-run", type=int, help=argparse.SUPPRESS)
        parser.add_argument(
            "--transfer",
            choices=TRANSFER_KINDS,
            default="extended",
            help="with --from-checkpoint: keep every layer (extended) or re-initialise the "
            "output layer first (fine-tune); default extended",
        )

    def handle(self, *args, **options):
        if options["list"]:
            for family in families().values():
                self.stdout.write(
                    f"{family.name}: configs {', '.join(family.configs) or '-'}; "
                    f"presets {', '.join(family.presets) or '-'}"
                )
            return
        if options["distributed_run"] is not None:
            return self.train_as_one_rank(options)
        if options["nproc"] < 1:
            raise CommandError("--nproc must be at least 1")
        if options["resume"] is not None:
            run = self.run_to_resume(options["resume"])
            return self.train_and_report(run, options)
        if options["device"]:
            try:  # this process trains it: a device it lacks fails now, not after the data
                device_for(options["device"])
            except ValueError as error:
                raise CommandError(str(error)) from None
        parent = None
        if options["from_checkpoint"] is not None:
            parent = Checkpoint.objects.filter(pk=options["from_checkpoint"]).first()
            if parent is None:
                raise CommandError(f"no checkpoint {options['from_checkpoint']}")
            options["model"] = options["model"] or parent.family
        if not options["model"] or not options["dataset"]:
            raise CommandError("--model and --dataset are required (or --list)")
        first, *more = datasets_named(options["dataset"])
        transfer = options["transfer"] if parent else ""
        try:
            run = create_run(
                dataset=first,
                extra_datasets=more,
                parent=parent,
                transfer=transfer,
                device=options["device"],
                **model_configuration(options),
            )
        except (ValueError, TypeError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"training run {run.pk}: {run.label}, {run.total_steps} steps")
        self.train_and_report(run, options)

    def train_in_processes(self, run: TrainingRun, processes: int) -> TrainingRun:
        """torchrun starts `processes` copies of this command on this machine; rank 0 records
        the run. A failed rank fails the run (torchrun stops the others)."""
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc-per-node={processes}",
            str(Path(settings.BASE_DIR) / "manage.py"),
            "train",
            "--distributed-run",
            str(run.pk),
            "--verbosity",
            "0",
        ]
        done = subprocess.run(command, cwd=settings.BASE_DIR, env=os.environ.copy())
        run.refresh_from_db()
        if done.returncode:
            if run.status != TrainingRun.Status.FAILED:
                TrainingRun.mark_failed(run.pk, f"torchrun exited with {done.returncode}")
            run.refresh_from_db()
            raise CommandError(f"training run {run.pk} failed: {run.error}")
        return run

    def train_as_one_rank(self, options) -> None:
        import torch.distributed as dist

        run = TrainingRun.objects.select_related("dataset").get(pk=options["distributed_run"])
        rank = int(os.environ["RANK"])
        world_size = int(os.environ["WORLD_SIZE"])
        device = device_for(run.device)
        if device.type == "cuda":  # one GPU per process
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        try:
            train(run, shard=Shard(rank, world_size), device=device)
        finally:
            dist.destroy_process_group()

    def run_to_resume(self, pk: int) -> TrainingRun:
        run = TrainingRun.objects.filter(pk=pk).select_related("dataset").first()
        if run is None:
            raise CommandError(f"no training run {pk}")
        if run.status == TrainingRun.Status.SUCCEEDED:
            raise CommandError(f"run {pk} has finished; nothing to resume")
        point = read_resume_point(run)
        where = f"step {point['step']}" if point else "the start (it had no checkpoint yet)"
        self.stdout.write(f"training run {run.pk}: {run.label}, going on from {where}")
        return run

    def train_and_report(self, run, options) -> None:
        progress = ProgressBar(self.stderr._out) if options["verbosity"] else None
        if options["nproc"] > 1:
            run = self.train_in_processes(run, options["nproc"])
        else:
            try:
                run = train(run, progress=progress)
            except Exception as error:
                raise CommandError(f"training run {run.pk} failed: {error}") from error
        valid = (run.latest_metrics or {}).get("valid", {})
        summary = ", ".join(
            f"{key} {valid[key]:.4f}"
            for key in ("loss", "accuracy", "note_event_accuracy", "play_f1", "frame_accuracy")
            if isinstance(valid.get(key), float)
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"run {run.pk} finished at step {run.step}"
                + (" (stopped early)" if run.stopped_early else "")
                + f"; validation {summary or 'n/a'}; {run.checkpoints.count()} checkpoints"
            )
        )
        for checkpoint in run.checkpoints.all():
            self.stdout.write(f"  checkpoint {checkpoint.pk}: step {checkpoint.step}")
