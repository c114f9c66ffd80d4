from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from generation.management.commands._model_arguments import add_device_argument
from generation.models import Checkpoint, Piece
from generation.music.parsing import PieceRejected
from generation.services.sampling import generate_samples, midi_primer, piece_primer
from generation.zoo.piano_roll_base import parse_style_mixture
from generation.zoo.sampling import SamplingSettings


class Command(BaseCommand):
    help = (
        "Draw samples from a checkpoint, in one batch, reproducibly (same settings, same samples)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--checkpoint", type=int, required=True, help="checkpoint id")
        parser.add_argument("--n", type=int, default=10, help="number of samples")
        parser.add_argument(
            "--bars", type=float, default=8, help="length after the primer, in 4/4 bars"
        )
        parser.add_argument("--seconds", type=float, help="length in seconds instead of bars")
        parser.add_argument("--temperature", type=float, default=1.0)
        parser.add_argument("--top-k", type=int)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--tempo", type=float, default=120.0, help="quarter notes per minute")
        parser.add_argument("--program", type=int, default=0, help="General MIDI program")
        primer = parser.add_mutually_exclusive_group()
        primer.add_argument("--primer-piece", type=int, help="id of a corpus piece to open with")
        primer.add_argument("--primer-midi", type=Path, help="a MIDI file to open with")
        parser.add_argument(
            "--primer-bars", type=float, default=2, help="bars of the primer to use"
        )
        parser.add_argument("--name", help="name of the sample set (default: from the settings)")
        parser.add_argument(
            "--style",
            help="style mixture for models that know styles (DeepJ), e.g. bach=0.5,palestrina=0.5",
        )
        add_device_argument(parser)
        parser.add_argument(
            "--no-adaptive-temperature",
            action="store_true",
            help="polyphonic models: keep the temperature fixed through silences",
        )

    def handle(self, *args, **options):
        try:
            checkpoint = Checkpoint.objects.get(pk=options["checkpoint"])
        except Checkpoint.DoesNotExist:
            raise CommandError(f"no checkpoint {options['checkpoint']}") from None
        bars = options["bars"]
        if options["seconds"] is not None:
            bars = options["seconds"] * options["tempo"] / 60 / 4
        try:
            sampling = SamplingSettings(
                n=options["n"],
                bars=bars,
                temperature=options["temperature"],
                top_k=options["top_k"],
                seed=options["seed"],
                program=options["program"],
                tempo_qpm=options["tempo"],
                style=parse_style_mixture(options["style"]) if options["style"] else None,
                adaptive_temperature=not options["no_adaptive_temperature"],
            )
            primer = None
            if options["primer_piece"] is not None:
                piece = Piece.objects.filter(pk=options["primer_piece"]).first()
                if piece is None:
                    raise CommandError(f"no piece {options['primer_piece']}")
                primer = piece_primer(piece, options["primer_bars"])
            elif options["primer_midi"] is not None:
                primer = midi_primer(options["primer_midi"], options["primer_bars"])
            sample_set = generate_samples(
                checkpoint,
                sampling,
                primer=primer,
                name=options["name"],
                device=options["device"],
            )
        except PieceRejected as error:
            raise CommandError(f"the primer MIDI file cannot be used: {error}") from None
        except (ValueError, FileNotFoundError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"sample set {sample_set.name}: {sample_set.samples.count()} samples in "
                f"{sample_set.samples.first().path.parent}"
            )
        )
