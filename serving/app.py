"""The HTTP surface: routes, the lifespan that owns the model, and error handling.

`app` is what uvicorn serves; tests call create_app(Settings(...)) to build
their own with other settings.
"""

import functools
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import anyio.to_thread
import msgspec
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route

from feedback import KeyReused, StoreError, StoreTimeout, open_store
from feedback import export as feedback_rows
from recognizer import png
from recognizer.cuts import has_touching_digits
from recognizer.model import DigitModel
from recognizer.preprocess import ImageError, ImageTooLarge
from serving import bodies, files, page_contract, predictions, shell
from serving.bodies import BadRequest, UnsupportedMediaType
from serving.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from serving.metrics import Metrics
from serving.middleware import BodyLimitMiddleware, RequestLogMiddleware
from serving.openapi import DOCS_PAGE, build_spec
from serving.runtime import loaded
from serving.settings import Settings, load_settings
from serving.shapes import (
    BatchPrediction,
    Error,
    FeedbackStored,
    Health,
    NumberBatchPrediction,
    Status,
    with_request_id,
)
from serving.submissions import model_inputs, parse_submission, to_record

API_VERSION = "1.0.0"
STORE_THREADS = 8
"""Feedback database calls per process that requests wait on at once; more queue, within
their timeout, so a burst of feedback cannot take the thread pool that serves files."""
logger = logging.getLogger("serving")
T = TypeVar("T")


class ShapeResponse(JSONResponse):
    """One of the API's shapes (serving.shapes, recognizer.answers) as JSON, encoded by
    msgspec straight from the Struct: the same bytes as Starlette's compact json.dumps, and
    4-10 times faster on the 784 numbers of include_input (13 against 140 us)."""

    def render(self, content: object) -> bytes:
        return msgspec.json.encode(content)


async def predict(request: Request) -> Response:
    """Recognise the digit in each image sent, as JSON, a raw image or a multipart upload."""
    model, settings = _model(request), request.state.settings
    parsed = predictions.parse_body(
        await bodies.read(request),
        _query_flag(request, "include_input"),
        settings.max_batch,
        request.query_params.get("mode", "digit"),
    )
    bodies.check_pixels(parsed.images, settings.max_request_pixels)
    work = functools.partial(
        predictions.predict, parsed, model, settings.max_image_pixels, settings.max_digits
    )
    if _small(parsed, "digit", INLINE_PIXELS):
        answers = work()  # well under a millisecond: cheaper here than a thread hand-off
    elif _small(parsed, "number", INLINE_NUMBER_PIXELS):
        drawings = predictions.number_drawings(
            parsed, settings.max_image_pixels, settings.max_digits
        )
        work = functools.partial(
            predictions.read_numbers, parsed, drawings, model, settings.max_digits
        )
        if any(map(has_touching_digits, drawings)):
            answers = await anyio.to_thread.run_sync(work, limiter=request.state.inference_limiter)
        else:
            answers = work()  # digits apart: see INLINE_NUMBER_PIXELS
    else:  # a batch, a large image, touching digits: the worker thread keeps the loop answering
        answers = await anyio.to_thread.run_sync(work, limiter=request.state.inference_limiter)
    request.state.metrics.observe_predictions(predictions.observed_digits(answers))
    request_id = request.state.request_id
    if not parsed.batch:
        return ShapeResponse(with_request_id(answers[0], request_id))
    batch = NumberBatchPrediction if parsed.mode == "number" else BatchPrediction
    return ShapeResponse(batch(predictions=answers, request_id=request_id))


INLINE_PIXELS = 400 * 400
"""A single digit-mode PNG up to this size (the page's 280x280 canvas, or its crop) is
recognised on the event loop: decoding, preprocessing and the model take about 0.7 ms,
and the hand-off to the inference thread and back cost 0.15-0.25 ms of CPU more per
request (+15-19 % req/s, WORKERS=1, c=8). The price: under a full /predict load, /health
waits its turn behind the queued requests (p50 0.6 ms with the thread, about 9-19 ms
inline on a busy 2-core machine), well within any probe's timeout."""


INLINE_NUMBER_PIXELS = 900 * 300
"""A single number-mode PNG up to this size (the page's 840x280 number pad) is decoded and
laid out in pieces on the event loop (about 1.2 ms), and when its digits stand apart (no
piece to cut, see recognizer.cuts.has_touching_digits) it is read there too: about 3.5 ms
in all for six digits. Two thread hand-offs, there and back, cost 0.4-0.5 ms more and
varied the server time by as much again (waking the other core); touching digits, with
dozens of candidate parts and tens of milliseconds of work, still go to the thread."""


def _small(parsed: predictions.PredictionRequest, mode: str, pixels: int) -> bool:
    """Whether this request is one PNG in `mode` of at most `pixels` pixels."""
    if parsed.batch or parsed.mode != mode or len(parsed.images) != 1:
        return False
    header = png.read_header(parsed.images[0])
    return header is not None and header.width * header.height <= pixels


def _query_flag(request: Request, name: str) -> bool:
    """A true/false query parameter, read exactly as JSON reads the same field."""
    value = request.query_params.get(name)
    if value is None:
        return False
    if value not in ("true", "false"):
        raise BadRequest(f"'{name}' must be true or false, not {value[:20]!r}")
    return value == "true"


async def predict_other_method(request: Request) -> Response:
    """405 for GET /predict and the like, which would otherwise fall through to the web page."""
    raise HTTPException(405, "use POST /predict with an image", headers={"Allow": "POST"})


async def health(request: Request) -> Response:
    """Service status and which model it serves."""
    info = _model(request).info
    return ShapeResponse(
        Health(
            status="healthy",
            model_loaded=True,
            model_version=info.version,
            model_sha256=info.sha256,
            model_parameters=info.parameters,
            feedback=request.state.settings.feedback,
        )
    )


async def live(request: Request) -> Response:
    """Liveness: the process answers HTTP."""
    return ShapeResponse(Status("alive"))


async def ready(request: Request) -> Response:
    """Readiness: the model is loaded and its warm-up inference passed."""
    _model(request)
    return ShapeResponse(Status("ready"))


async def metrics(request: Request) -> Response:
    """Prometheus metrics, added up over every worker process."""
    return Response(request.state.metrics.render(), media_type=METRICS_CONTENT_TYPE)


async def docs(request: Request) -> Response:
    """/docs: a permanent redirect to /docs/ (where the page's relative links work), with a
    link in its body for whatever does not follow redirects."""
    return HTMLResponse(
        "<!doctype html><title>API documentation</title>"
        '<p>The API documentation is at <a href="docs/">docs/</a>.</p>',
        status_code=308,
        headers={"Location": "docs/"},
    )


async def openapi(request: Request) -> Response:
    """The OpenAPI description of this API."""
    return JSONResponse(request.state.openapi)


async def model_file(request: Request) -> Response:
    """The served model's ONNX file, for the page's offline recognizer, named by its sha256."""
    served = _model(request).info
    etag = f'"{served.sha256}"'
    headers = {
        "ETag": etag,
        "X-Model-SHA256": served.sha256,
        "X-Model-Version": served.version,
        "Cache-Control": "no-cache",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    try:  # hashed once per version of the file (shell.file_hash), then streamed from disk
        info = await anyio.to_thread.run_sync(served.path.stat)
        work = functools.partial(shell.file_hash, served.path, info.st_mtime_ns, info.st_size)
        digest = await anyio.to_thread.run_sync(work)
    except OSError:
        digest = None
    if digest != served.sha256:
        raise HTTPException(503, "the model file changed on disk since the server started")
    return FileResponse(
        served.path, headers=headers, media_type="application/octet-stream", stat_result=info
    )


async def service_worker(request: Request) -> Response:
    """The page's service worker, stamped with a hash of the app shell it caches."""
    settings = request.state.settings
    generated = {page_contract.PATH: page_contract.render(settings.max_digits)}
    work = functools.partial(shell.service_worker, settings.web_dir, generated)
    return shell.script_response(request.headers, await anyio.to_thread.run_sync(work))


async def contract_script(request: Request) -> Response:
    """The page's constants and messages (js/contract.js), from the server's definitions."""
    body = page_contract.render(request.state.settings.max_digits)
    return shell.script_response(request.headers, body)


async def runtime_file(request: Request) -> Response:
    """A file of the offline runtime (onnxruntime-web), gzipped for clients that take gzip."""
    name = f"{shell.RUNTIME_DIR}/{request.url.path.split(f'/{shell.RUNTIME_DIR}/', 1)[1]}"
    work = functools.partial(shell.runtime_file, request.state.settings.web_dir, name)
    path, info, headers = await anyio.to_thread.run_sync(work)
    return await request.state.gzip_copies.response(request.scope, path, info, headers)


async def feedback(request: Request) -> Response:
    """Store a user's correction (or confirmation) of an answer: 201 with its id."""
    state, settings = request.state, request.state.settings
    if not settings.feedback:
        state.metrics.observe_feedback("disabled")
        raise HTTPException(404, "this server does not collect feedback (FEEDBACK=off)")
    try:
        submission, client_key = parse_submission(
            await bodies.read(request), request.headers.get("idempotency-key"), settings.max_digits
        )
        bodies.check_pixels([submission.image], settings.max_request_pixels)
        work = functools.partial(
            model_inputs,
            submission,
            _model(request),
            settings.max_image_pixels,
            settings.max_digits,
        )
        inputs = await anyio.to_thread.run_sync(work, limiter=state.inference_limiter)
        record = to_record(submission, inputs, state.request_id, client_key)
        stored_id, new = await _in_store(request, state.feedback_store.add, record)
    except (BadRequest, ImageError, KeyReused):
        state.metrics.observe_feedback("rejected")
        raise
    except StoreError as exc:
        state.metrics.observe_feedback("failed")
        logger.error("feedback not stored: %s", exc)
        raise HTTPException(
            503, f"feedback cannot be stored right now ({exc.reason}); send it again later"
        ) from exc
    state.metrics.observe_feedback("stored" if new else "duplicate")
    # 200 for a resent submission (same Idempotency-Key): the same id, stored once.
    return ShapeResponse(FeedbackStored(stored_id), status_code=201 if new else 200)


async def feedback_other_method(request: Request) -> Response:
    """405 for GET /feedback and the like, which would otherwise fall through to the web page."""
    raise HTTPException(405, "use POST /feedback with a drawing and its label", {"Allow": "POST"})


async def export_feedback(request: Request) -> Response:
    """Every stored submission as NDJSON or CSV, for the holder of FEEDBACK_TOKEN."""
    state, token = request.state, request.state.settings.feedback_token
    if not token:
        raise HTTPException(404, "feedback export is off; set FEEDBACK_TOKEN to switch it on")
    if not feedback_rows.token_matches(request.headers.get("authorization", ""), token):
        raise HTTPException(
            401, "send 'Authorization: Bearer <FEEDBACK_TOKEN>'", {"WWW-Authenticate": "Bearer"}
        )
    form = request.query_params.get("format", "ndjson")
    if form not in feedback_rows.FORMATS:
        raise BadRequest(f"'format' must be one of {', '.join(feedback_rows.FORMATS)}")
    try:
        after = feedback_rows.parse_id(request.query_params.get("after", "0"))
    except ValueError as exc:
        raise BadRequest(f"'after' must be a stored id: {exc}") from None
    try:  # fail with a clear 503 now rather than halfway through the stream
        await _in_store(request, state.feedback_store.count)
    except StoreError as exc:
        raise HTTPException(
            503, f"the feedback database cannot be read right now ({exc.reason})"
        ) from exc
    return StreamingResponse(
        feedback_rows.render(state.feedback_store.export(after), form),
        media_type=feedback_rows.FORMATS[form],
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="feedback.{form}"',
        },
    )


async def _in_store(request: Request, call: Callable[..., T], *args: object) -> T:
    """`call` on the feedback store in a store thread, given up after FEEDBACK_TIMEOUT.

    A database that answers nothing (a frozen host) would hold the thread, and so the
    request, for as long as the TCP connection lives: the request gets StoreTimeout in time
    and the thread is left to finish or fail on its own (its limiter token is given back
    then: a new connection attempt gives up after the connect timeout, and a statement on
    a connection already open waits until the database answers or drops it). A resent
    submission with the same Idempotency-Key is stored once, whether or not the abandoned
    call committed.
    """
    state = request.state
    try:
        with anyio.fail_after(state.settings.feedback_timeout):
            return await anyio.to_thread.run_sync(
                call, *args, abandon_on_cancel=True, limiter=state.store_limiter
            )
    except TimeoutError:
        raise StoreTimeout(
            f"the database did not answer within {state.settings.feedback_timeout:g} s"
        ) from None


def _model(request: Request) -> DigitModel:
    """The loaded model; 503 until the lifespan has loaded and warmed it up."""
    model = getattr(request.state, "model", None)
    if model is None:
        raise HTTPException(503, "the model is not loaded yet; retry in a moment")
    return model


async def client_error(request: Request, exc: Exception) -> Response:
    """A client's mistake: its status and a message saying what to fix."""
    status = next(CLIENT_ERRORS[cls] for cls in type(exc).__mro__ if cls in CLIENT_ERRORS)
    return ShapeResponse(Error(str(exc)), status_code=status)


async def http_error(request: Request, exc: HTTPException) -> Response:
    """Starlette's own errors (404, 405, 503) in the same JSON shape as ours."""
    return ShapeResponse(Error(exc.detail), status_code=exc.status_code, headers=exc.headers)


async def client_gone(request: Request, exc: Exception) -> Response:
    """The client left (or was disconnected) before its body arrived: no one reads this,
    but the request's log line says 499, as nginx does, instead of a traceback."""
    return Response(status_code=CLIENT_CLOSED_REQUEST)


CLIENT_CLOSED_REQUEST = 499


async def server_error(request: Request, exc: Exception) -> Response:
    """A bug: log it with its traceback, tell the client nothing about the internals."""
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return ShapeResponse(Error("internal server error; the request was logged"), status_code=500)


CLIENT_ERRORS: dict[type[Exception], int] = {
    KeyReused: 422,
    UnsupportedMediaType: 415,
    BadRequest: 400,
    ImageTooLarge: 413,
    ImageError: 400,
}

API_ROUTES = [
    Route("/predict", predict, methods=["POST"]),
    Route("/predict", predict_other_method, methods=["GET", "PUT", "PATCH", "DELETE", "OPTIONS"]),
    Route("/health", health),
    Route("/model.onnx", model_file),
    Route("/sw.js", service_worker),
    Route("/health/live", live),
    Route("/health/ready", ready),
    Route("/metrics", metrics),
    Route("/openapi.json", openapi),
    Route("/docs", docs),
    Route("/feedback", feedback, methods=["POST"]),
    Route("/feedback", feedback_other_method, methods=["GET", "PUT", "PATCH", "DELETE"]),
    Route("/feedback/export", export_feedback),
]

EXCEPTION_HANDLERS = {
    **dict.fromkeys(CLIENT_ERRORS, client_error),
    HTTPException: http_error,
    ClientDisconnect: client_gone,
    Exception: server_error,
}


def create_app(settings: Settings | None = None) -> Starlette:
    """The application for these settings (the environment's by default)."""
    settings = settings or load_settings()
    request_metrics = Metrics()
    copies = files.GzipCopies()  # the page's and the runtime's files, gzipped once per version

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict]:
        # The model `python -m serving` (or this forked worker) loaded and checked a moment
        # ago, or, for an app built another way, loaded now.
        model = loaded.take(settings.model_path, settings.ort_threads) or DigitModel.load(
            settings.model_path, settings.ort_threads
        )
        logger.info("serving model %s from %s", model.info.version, settings.model_path)
        # Connects on first use, each call bounded by FEEDBACK_TIMEOUT.
        feedback_store = open_store(settings.feedback_db, settings.feedback_timeout)
        yield {
            "model": model,
            # One inference thread per process for the long requests (batches, numbers, large
            # images): +15% over Starlette's 40-thread pool. The page's single small drawing
            # runs inline (see INLINE_PIXELS). Scale with WORKERS.
            "inference_limiter": anyio.CapacityLimiter(1),
            "settings": settings,
            "metrics": request_metrics,
            "openapi": build_spec(API_VERSION, settings.max_batch, settings.max_digits, API_ROUTES),
            "feedback_store": feedback_store,
            "store_limiter": anyio.CapacityLimiter(STORE_THREADS),
            "gzip_copies": copies,
        }
        feedback_store.close()

    cors = (
        [
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Content-Type"],
            )
        ]
        if settings.cors_origins
        else []
    )
    middleware = [
        Middleware(
            RequestLogMiddleware,
            metrics=request_metrics,
            routes=frozenset({"/", *(route.path for route in API_ROUTES)}),
        ),
        *cors,
        Middleware(
            BodyLimitMiddleware,
            max_body_bytes=settings.max_body_bytes,
            timeout=settings.client_timeout,
        ),
    ]
    web = files.PageFiles(directory=settings.web_dir, html=True, check_dir=False, copies=copies)
    return Starlette(
        routes=[
            *API_ROUTES,
            *(Route(f"/{name}", runtime_file) for name in shell.runtime_files(settings.web_dir)),
            Route(f"/{page_contract.PATH}", contract_script),
            Mount("/docs", DOCS_PAGE, name="docs"),
            Mount("/", web, name="web"),
        ],
        middleware=middleware,
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )


app = create_app()
