"""One reader for the bodies of POST /predict and POST /feedback, with its limits.

A body is read once, in one of three forms: JSON, a raw image, or a multipart form.
Forms are parsed by Starlette's `request.form()` (python-multipart), which streams the
body a chunk at a time and stops at the first part past a limit, so a body of a hundred
thousand empty parts costs the event loop about a millisecond, not seconds. JSON has its
elements counted before it is parsed, for the same reason. After parsing, `check_pixels`
weighs the images by their headers before any is decoded, so a batch of large images
cannot take a worker's memory.

A JSON body, or a form's text fields, become one of the typed shapes of serving.shapes,
validated as they are decoded; a field that does not fit gets the shape's own words for
what to send instead.
"""

import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import msgspec
from PIL import Image
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request

from recognizer import png
from recognizer.preprocess import ACCEPTED_FORMATS, ImageTooLarge

MAX_FORM_FILES = 1
"""File parts in one form: the drawing, as the field 'image'."""
MAX_FORM_FIELDS = 16
"""Text parts in one form: /feedback has six, /predict none; a few more are ignored."""
MAX_FIELD_BYTES = 4096
"""Bytes in one text part: the longest field (a version, an id) has 128 characters."""
MAX_JSON_TOKENS = 10_000
"""Brackets, braces, commas and colons in one JSON body. A batch of 64 images has about
200; a megabyte of `[[]],` has 800,000, which json.loads takes 150 ms or more to turn into
objects, holding the GIL all the while (so a thread would not spare the event loop)."""
T = TypeVar("T")
_NOT_JSON_TOKENS = bytes(sorted(set(range(256)) - set(b"[{,:")))
"""Every byte but those counted, for bytes.translate to delete."""


class BadRequest(ValueError):
    """The request cannot be answered as sent; the message tells the client what to fix."""


class UnsupportedMediaType(BadRequest):
    """The body is in a form the service does not read."""


class BodyCut(BadRequest):
    """The client closed the connection before its body had arrived; nobody hears the answer,
    but the request is logged as a client's error, not a server's (with no traceback)."""


class TooManyPixels(ImageTooLarge):
    """The images of one request hold more pixels, in all, than the request may decode."""


@dataclass(frozen=True)
class Body:
    """A request body as read: the content of a JSON or raw body, or a form's parts."""

    media_type: str
    """The Content-Type without its parameters, lower case ("" when none was sent)."""
    content: bytes = b""
    """A JSON or raw body as sent; empty for a form."""
    fields: dict[str, str] = field(default_factory=dict)
    """A form's text parts."""
    files: dict[str, bytes] = field(default_factory=dict)
    """A form's file parts, by field name."""

    @property
    def is_json(self) -> bool:
        """Whether the body claims to be JSON (application/json or any +json type)."""
        return self.media_type == "application/json" or self.media_type.endswith("+json")

    @property
    def is_form(self) -> bool:
        """Whether the body was a multipart form (read into `fields` and `files`)."""
        return self.media_type == "multipart/form-data"


async def read(request: Request) -> Body:
    """The body of a request, read once; BadRequest for a form that cannot be parsed, and
    BodyCut for a body the client stopped sending."""
    try:
        return await _read(request)
    except ClientDisconnect:
        raise BodyCut("the connection was closed before the body arrived") from None


async def _read(request: Request) -> Body:
    """read() without its handling of a client that hangs up."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "multipart/form-data":
        return Body(media_type, content=await request.body())
    try:
        form = await request.form(
            max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FIELD_BYTES
        )
    except HTTPException as exc:  # what Starlette makes of python-multipart's errors
        raise BadRequest(
            f"the multipart body cannot be parsed ({exc.detail}); send the drawing as one "
            "file field 'image', and at most "
            f"{MAX_FORM_FIELDS} short text fields"
        ) from None
    fields, files = {}, {}
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                files[name] = await value.read()
            else:
                fields[name] = value
    finally:
        await form.close()
    if not fields and not files:
        raise BadRequest("the multipart body has no parts; check the boundary")
    return Body(media_type, fields=fields, files=files)


def decode_json(content: bytes, shape: type[T]) -> T:
    """A JSON body decoded into `shape` (a Struct with `errors`, see serving.shapes);
    BadRequest if it is not JSON, has too many elements, or does not fit the shape.

    The elements are counted (one C-speed pass, about 1 ms a megabyte) before anything is
    parsed, so that the parse stays within a few milliseconds whatever is sent. A body no
    longer than the limit cannot pass it, and is not counted.
    """
    too_long = len(content) > MAX_JSON_TOKENS
    tokens = len(content.translate(None, _NOT_JSON_TOKENS)) if too_long else 0
    if tokens > MAX_JSON_TOKENS:
        raise BadRequest(
            f"the JSON has too many elements ({tokens:,} brackets, braces, commas and colons; "
            f"at most {MAX_JSON_TOKENS:,})"
        )
    try:
        return msgspec.json.decode(content, type=shape)
    except msgspec.ValidationError as exc:
        raise BadRequest(explain(str(exc), shape.errors)) from None  # type: ignore[attr-defined]
    except msgspec.DecodeError as exc:
        raise BadRequest(f"the body is not valid JSON ({exc})") from None
    except RecursionError:  # [[[[... a few thousand deep exhausts the parser's stack
        raise BadRequest("the JSON is nested too deeply") from None


def convert_fields(fields: Mapping[str, str], shape: type[T]) -> T:
    """A form's text fields as `shape`; an empty field counts as one not sent."""
    try:
        return msgspec.convert({k: v for k, v in fields.items() if v}, type=shape)
    except msgspec.ValidationError as exc:
        raise BadRequest(explain(str(exc), shape.errors)) from None  # type: ignore[attr-defined]


_MISSING = re.compile(r"Object missing required field `(?P<at>[^`]*)`")
_WRONG = re.compile(r"(?P<detail>.*?)(?: - at `\$\.?(?P<at>[^`]*)`)?")
_INDEX = re.compile(r"\[[0-9]+\]")


def explain(message: str, errors: Mapping[str, str]) -> str:
    """msgspec's message for a value that does not fit a shape, in the shape's words: which
    field, what it must be (errors[field], with [] for any item of a list), and msgspec's
    own detail. A field that is absent or null is "missing"."""
    missing = _MISSING.fullmatch(message)
    if missing:
        detail, at = None, missing["at"]
    else:
        detail, at = _WRONG.fullmatch(message).group("detail", "at")  # type: ignore[union-attr]
    shape = errors.get(_INDEX.sub("[]", at or ""), "valid")
    if not at:
        return f"the JSON body must be {shape} ({message})"
    if detail is None or detail.endswith("got `null`"):
        return f"'{at}' is missing; it must be {shape}"
    return f"'{at}' must be {shape} ({detail[:1].lower()}{detail[1:]})"


def check_pixels(images: Sequence[bytes], budget: int) -> None:
    """Refuse a request whose images hold more than `budget` pixels in all, before decoding.

    Each image is weighed by its header (a PNG's IHDR, or what Pillow reads of any other
    format without decoding it); an image whose size cannot be read weighs nothing here
    and is refused by the decoder.
    """
    total = sum(_pixels(image) for image in images)
    if total > budget:
        raise TooManyPixels(
            f"the images hold {total:,} pixels in all; one request may send at most "
            f"{budget:,} (send fewer or smaller images)"
        )


def _pixels(image: bytes) -> int:
    """Width times height as the image's header says, or 0 if it cannot be read."""
    header = png.read_header(image)
    if header is not None:
        return header.width * header.height
    try:
        # Only the formats the decoder accepts: left to try all, Pillow took 40 ms on a
        # megabyte of junk.
        with Image.open(io.BytesIO(image), formats=ACCEPTED_FORMATS) as opened:
            width, height = opened.size
    except Exception:  # any decoder may raise anything on hostile bytes; decode_image decides
        return 0
    return width * height
