"""docs/model.md, rendered from the model card, so the page about the model cannot go stale.

Every figure on that page comes from `artifacts/model_card.json`; only the prose that says
how the figures were made is written here. After training or `python -m training evaluate
--write`, run `python -m training.model_doc` and commit both; a test checks they agree.
Importing this module needs neither TensorFlow nor the model.
"""

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from recognizer.contract import CARD_FILE
from training.strokes import TEMPLATES

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CARD = REPO_ROOT / "artifacts" / CARD_FILE
DEFAULT_DOC = REPO_ROOT / "docs" / "model.md"
MISSES_SHOWN = 12
"""The number mode's wrong readings listed: enough to see the kinds of mistake."""

INTRO = """\
# The model

<!-- Generated from artifacts/model_card.json by `python -m training.model_doc`: do not edit. -->

A small convolutional network reads one 28x28 picture of a digit and gives eleven
probabilities: one for each digit and one for "not a digit". It is
trained with Keras (`training/`), exported to ONNX with its calibration inside, and served by
onnxruntime; the server and the page run the same file. Every figure below was measured on
the committed file by `make evaluate` (`python -m training evaluate --model-dir artifacts
--write` writes them into the card, `--check` verifies them), through the server's own
preprocessing and its rule for refusing a drawing: a refused digit counts as a mistake.
"""

ARCHITECTURE = """\
## Architecture

`training/network.py`: a 3x3 convolution with 32 filters, max-pooling, two convolutions with
64, max-pooling, a 5x5 valid convolution with 128, then eleven logits; each convolution with
batch normalization and ReLU, dropout between the blocks. The export (`training/onnx_export.py`)
puts the temperature and the softmax inside the graph. Training, evaluation and serving share
one input contract (`recognizer/contract.py`) and one preprocessing
(`recognizer/preprocess.py`): transparency composited, the ink's polarity found, the drawing
cropped to its ink, its longer side fitted to 20 px and centred by mass in 28x28, as MNIST
itself was made.
"""


def style_count() -> int:
    """How many stroke-drawn styles the training run draws (training/strokes.py)."""
    return sum(len(styles) for styles in TEMPLATES.values())


DATA_PROSE = """\
Beside MNIST, the training run draws digits that MNIST's American writers rarely wrote:
{styles} school styles from pen strokes (`training/strokes.py`: the European 1 with a long flag,
the crossed 7, the slashed 0, the one-stroke 4, the 9 with a curled tail and others), each
drawn by a simulated writer with a slant, a tremor and a pen width of their own. Real pen
trajectories of other writers are drawn as the page paints strokes (`training/pendigits.py`).
The eleventh class learns from letters, shapes, scribbles, dots and two or three digits side
by side (`training/nondigits.py`); letters that are digits in somebody's hand (O, I, l, S, Z,
B, G, q, b) are left out on purpose. Everything goes through canvas-like augmentation and an
elastic distortion (`training/augment.py`).
"""

SUITES_PROSE = """\
The suites in `training/suites.py` and `training/number_suites.py` are written apart from the
training generators: their own templates, their own random stream and raw pointer samples as
a browser reports them. Nothing in them is trained on.
"""

STYLES_PROSE = """\
Among the styles are the European ones that MNIST lacks (the flagged 1, the crossed 7, the
slashed 0) and four that real writers use and digit readers often misread: the 1 with a long
lead-in, the 7 in one curved and crossed stroke, the 9 with an open-curl head and the 4 in one
stroke with a loop.
"""

REFUSAL_PROSE = """\
The server refuses a drawing when the eleventh class reaches 0.5 (`NOT_A_DIGIT_THRESHOLD` in
`recognizer/contract.py`), or when the ink is one compact mark as thick as it is long that the
model names no digit for at 0.5 or more (`recognizer/answers.py`).
"""


def pct(value: float, places: int = 2) -> str:
    """A share as a percentage, without trailing zeros ("99.53 %", "100 %")."""
    text = f"{100 * value:.{places}f}".rstrip("0").rstrip(".")
    return f"{text} %"


def table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    """A Markdown table."""
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def training_run(training: Mapping) -> str:
    """How long the run took; a fine-tuned model's card has no run of its own (see lineage)."""
    if "epochs_run" not in training:
        return f"fine-tuned, seed {training['config']['seed']}"
    return (
        f"{training['epochs_run']} epochs (best: {training['best_epoch']}), "
        f"{training['total_seconds']:,.0f} s, seed {training['config']['seed']}"
    )


def model_section(card: Mapping) -> str:
    model, training = card["model"], card["training"]
    lines = [
        "## This model\n",
        table(
            ["", ""],
            [
                ["version", f"`{model['version']}`"],
                ["made", f"{card['created_at']} by `python -m training run`"],
                ["file", f"`artifacts/{model['file']}`, {model['size_bytes']:,} bytes"],
                ["sha256", f"`{model['sha256']}`"],
                ["parameters", f"{model['parameters']:,}"],
                ["input", f"`{model['input']['name']}`, float32 Nx28x28x1, 0 to 1, white on black"],
                ["output", f"`{model['output']['name']}`, float32 Nx{model['output']['shape'][1]}"],
                ["calibration temperature", card["calibration"]["temperature"]],
                ["training", training_run(training)],
                ["versions", ", ".join(f"{k} {v}" for k, v in card["versions"].items())],
            ],
        ),
    ]
    if "lineage" in card:
        parent = card["lineage"]["parent"]
        lines.append(f"Fine-tuned from `{parent['version']}` on users' feedback.\n")
    return "\n".join(lines)


def data_section(card: Mapping) -> str:
    data = card["data"]
    pen = data["pen_written"]
    writers = ", ".join(str(w) for w in pen["held_out_writers"])
    rows = [
        ["MNIST", f"`{data['file']}`, sha256 `{data['sha256']}`"],
        ["training examples", f"{data['train_examples']:,}"],
        ["of which stroke-drawn digits", f"{data['synthetic_examples']:,}"],
        [
            "of which real pen-written digits",
            f"{pen['train_examples']:,} renderings "
            f"({pct(pen['share_of_training'], 1)} of training)",
        ],
        ["of which non-digits", f"{data['nondigit_examples']:,}"],
        ["validation examples", f"{data['validation_examples']:,}"],
        ["MNIST test images", f"{data['test_examples']:,}"],
    ]
    credit = (
        f"The pen-written digits are `{pen['file']}` (sha256 `{pen['sha256']}`, licence "
        f"{pen['licence']}): {pen['credit']}. Writers {writers} are never trained on."
    )
    return (
        f"## Data\n\n{table(['', ''], rows)}\n{credit}\n\n{DATA_PROSE.format(styles=style_count())}"
    )


def digits_section(metrics: Mapping) -> str:
    canvas, calibration = metrics["canvas"], metrics["canvas"]["calibration"]
    pen, style, drawings = metrics["pen_held_out"], metrics["style_suite"], metrics["drawings"]
    rows = [
        [
            "MNIST test (10,000 images)",
            f"**{pct(metrics['test_accuracy'])}**, refused {pct(metrics['test']['rejected_rate'])}",
        ],
        [
            "the same digits drawn on a 280x280 canvas",
            f"**{pct(canvas['accuracy'])}**, refused {pct(canvas['rejected_rate'])}, "
            f"wrong at 0.9 or more {pct(calibration['wrong_at_0.9_or_more'])}",
        ],
        [
            "calibration on the canvas (ECE, 15 bins)",
            f"{calibration['ece_before']} before, **{calibration['ece_after']}** after; "
            f"mean confidence when right {calibration['mean_confidence_when_right']}",
        ],
        [
            f"style suite ({style['count']:,} drawings, {len(style['per_style'])} styles)",
            f"**{pct(style['accuracy'])}**, wrong at 0.9 or more "
            f"{pct(style['wrong_at_0.9_or_more'])}",
        ],
        [
            f"held-out pen writers ({pen['count']} digits)",
            f"**{pct(pen['accuracy'])}**, refused {pct(pen['rejected_rate'])}, "
            f"wrong at 0.9 or more {pct(pen['wrong_at_0.9_or_more'])}",
        ],
        [
            "real digits refused (canvas, style suite and pen writers pooled)",
            f"**{pct(metrics['real_digits_refused_rate'], 3)}**",
        ],
        [
            f"non-digit suite ({metrics['nondigit_suite']['count']:,} drawings)",
            f"**{pct(metrics['nondigit_catch_rate'])}** refused, a digit at 0.6 or more for "
            f"{pct(metrics['nondigit_suite']['digit_at_0.6_or_more_rate'])}",
        ],
        [
            "hand-made variant drawings",
            f"{round(drawings['accuracy'] * drawings['count'])} of {drawings['count']}",
        ],
    ]
    return (
        f"## Single digits\n\n{SUITES_PROSE}\n{REFUSAL_PROSE}\n{table(['set', 'measured'], rows)}"
    )


def read_as(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} read {digit}" for digit, n in counts.items()) or ""


def styles_section(metrics: Mapping) -> str:
    rows = [
        [
            name,
            pct(s["accuracy"]),
            pct(s["rejected"]),
            pct(s["wrong_at_0.9_or_more"]),
            read_as(s["read_as"]),
        ]
        for name, s in metrics["style_suite"]["per_style"].items()
    ]
    kinds = [
        [name, pct(k["caught"]), pct(k["digit_at_0.6_or_more"]), pct(k["digit_at_0.9_or_more"])]
        for name, k in metrics["nondigit_suite"]["per_kind"].items()
    ]
    test, canvas = metrics["test"]["per_class_accuracy"], metrics["canvas"]["per_class_accuracy"]
    per_digit = [
        [digit, pct(test[digit]), pct(canvas[digit]), pct(d["accuracy"]), pct(d["rejected"])]
        for digit, d in metrics["pen_held_out"]["per_digit"].items()
    ]
    return "\n".join(
        [
            "### Each style\n",
            STYLES_PROSE,
            table(["style", "right", "refused", "wrong at ≥ 0.9", "misses"], rows),
            "### Each kind of non-digit\n",
            table(["kind", "refused", "a digit at ≥ 0.6", "a digit at ≥ 0.9"], kinds),
            "### Each digit\n",
            table(
                ["digit", "MNIST test", "on the canvas", "pen writers", "pen writers refused"],
                per_digit,
            ),
            "![training curves](../artifacts/training_history.png)\n",
            "![confusion matrix](../artifacts/confusion_matrix.png)\n",
        ]
    )


def exact_split(cell: Mapping) -> str:
    return f"{pct(cell['exact'], 1)} ({pct(cell['split'], 1)})"


def numbers_section(metrics: Mapping) -> str:
    numbers = metrics["numbers"]
    grid = numbers["by_gap_and_length"]
    lengths = list(numbers["by_length"])
    rows = [
        [
            gap,
            *(exact_split(grid[gap][n]) for n in lengths),
            f"**{exact_split(numbers['by_gap'][gap])}**",
        ]
        for gap in grid
    ]
    rows.append(
        [
            "all",
            *(exact_split(numbers["by_length"][n]) for n in lengths),
            f"**{exact_split(numbers['exact'])}**",
        ]
    )
    separated, pairs = numbers["separated_2_to_6"], numbers["touching_pairs"]
    canvas = numbers["canvas"]
    summary = [
        [
            f"separated digits, 2 to 6 ({separated['count']} numbers)",
            exact_split(separated),
            pct(separated["wrong_at_0.9_or_more"]),
        ],
        [
            f"touching pairs ({pairs['count']})",
            exact_split(pairs),
            pct(pairs["wrong_at_0.9_or_more"]),
        ],
        [
            f"all ({numbers['exact']['count']:,})",
            exact_split(numbers["exact"]),
            pct(numbers["exact"]["wrong_at_0.9_or_more"]),
        ],
        *(
            [f"from {source} digits ({s['count']})", exact_split(s), pct(s["wrong_at_0.9_or_more"])]
            for source, s in numbers["by_source"].items()
        ),
    ]
    return "\n".join(
        [
            "## Numbers\n",
            "The number test set (`training/number_sets.py`, `python -m training.number_sets`) "
            f"lays out 2 to 8 digits on the {canvas['width']}x{canvas['height']} number pad, MNIST "
            "test digits or pen-stroke digits, with one kind of gap between neighbours: wide "
            "(25-60 % of the digit height), narrow (4-12 %), touching, or overlapping (the "
            "strokes cross). A number counts only if every digit is read right; in brackets, the "
            "share split into the right parts whatever was read in them.\n",
            table(["gap", *(f"{n} digits" for n in lengths), "all"], rows),
            table(["numbers", "exact (split)", "wrong at ≥ 0.9"], summary),
            suites_section(metrics["number_suites"]),
        ]
    )


def suites_section(suites: Mapping) -> str:
    rows = []
    for suite, title in (
        ("non_numbers", "non-numbers not claimed"),
        ("european", "European numbers read exactly"),
    ):
        for way, way_title in (
            ("with_hint", "with the stroke hint"),
            ("image_alone", "the image alone"),
        ):
            result = suites[suite][way]
            kinds = ", ".join(
                f"{k.replace('_', ' ')} {pct(v['passed'], 1)}" for k, v in result["by_kind"].items()
            )
            rows.append(
                [
                    f"{title}, {way_title}",
                    f"**{pct(result['passed'], 1)}** ({kinds})",
                    pct(result["wrong_at_0.9_or_more"]),
                ]
            )
    return (
        "The number pad's own suites (`training/number_suites.py`) draw as a person does with "
        f"the page's pen, {suites['per_kind']} drawings of each kind: non-numbers (letters, "
        "words, shapes, scribbles, long lines, letters among digits) pass when no number is "
        "claimed at 0.5 or more; European numbers (a flagged 1, a 1 with a base, a crossed 7, "
        "a 5 with its bar lifted, a two-stroke 4) pass when read exactly.\n\n"
        + table(["suite", "passed", "wrong at ≥ 0.9"], rows)
    )


def failures_section(metrics: Mapping) -> str:
    lines = ["## Limits and known failures\n"]
    styles = [
        f"{name}: {read_as(s['read_as'])}"
        for name, s in metrics["style_suite"]["per_style"].items()
        if s["read_as"]
    ]
    if styles:
        lines.append("- Single styles read wrong: " + "; ".join(styles) + ".")
    suites = metrics["number_suites"]
    for suite, title in (("european", "European numbers"), ("non_numbers", "Non-numbers")):
        misses = suites[suite]["with_hint"]["misses"]
        if misses:
            shown = ", ".join(
                f"{m['true'] or m['kind']} read {m['read']} ({m['confidence']})" for m in misses
            )
            lines.append(f"- {title} missed with the stroke hint: {shown}.")
    mistakes = metrics["numbers"]["mistakes"][:MISSES_SHOWN]
    if mistakes:
        shown = ", ".join(
            f"{m['true']} read {m['read'] or 'as no number'} ({m['gap']})" for m in mistakes
        )
        lines.append(f"- The number test set's first wrong readings: {shown}.")
    lines.append(
        "- Touching and overlapping digits are cut by geometry and judged by the model; long "
        "runs of touching digits need every cut right, so they are read far less often than "
        "digits written apart. On the page, strokes drawn apart are always separate digits, "
        "and *Split wrong?* lets the user join or split parts.\n"
    )
    return "\n".join(lines)


def parity_section(card: Mapping) -> str:
    parity = card["parity"]
    return (
        "## Keras and ONNX agree\n\n"
        f"On {parity['images']:,} MNIST test images the exported file and the Keras model give "
        f"the same argmax on {pct(parity['argmax_agreement'])} and probabilities within "
        f"{parity['max_abs_diff']:.1e}; the export fails otherwise.\n"
    )


def render(card: Mapping) -> str:
    """docs/model.md for this card."""
    metrics = card["metrics"]
    return "\n".join(
        [
            INTRO,
            model_section(card),
            ARCHITECTURE,
            data_section(card),
            digits_section(metrics),
            styles_section(metrics),
            numbers_section(metrics),
            failures_section(metrics),
            parity_section(card),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.model_doc", description=__doc__)
    parser.add_argument("--card", type=Path, default=DEFAULT_CARD)
    parser.add_argument("--out", type=Path, default=DEFAULT_DOC, help="'-' for standard output")
    args = parser.parse_args(argv)
    text = render(json.loads(args.card.read_text(encoding="utf-8")))
    if str(args.out) == "-":
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
