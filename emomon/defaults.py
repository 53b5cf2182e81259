"""The one home of emomon's defaults.

The CLI options, the Python API (:class:`~emomon.stream.MonitorConfig`,
:class:`~emomon.features.vad.VadOptions`, :func:`~emomon.timeline.analyze_file`) and the training
recipe all read these names; nothing else spells the numbers out. This module imports nothing
heavy, so ``emomon --help`` can read it.
"""

from __future__ import annotations

# -- models (a config.json, a recipe or a backbone that names none of its own) ---------------------
BACKBONE = "whisper-base"  # the default model's backbone (the backbone registry's name)
SAMPLE_RATE = 16000  # Hz: what every shipped backbone, the Silero VAD and the default front end run at

# -- stream windows (a model's config.json may set its own window/hop) ---------------------------
WINDOW_S = 3.0  # analysis window, seconds
HOP_S = 0.5  # a result every hop, seconds
SMOOTHING = 0.6  # EMA weight of the past in [0, 1)
MAX_BATCH = 16  # windows per forward pass in the inference worker
MAX_WAIT_S = 0.0  # how long the worker waits for windows of other streams to join a batch (benchmarks/stream_bench.py --max-wait)
PRECISION = "auto"  # the backbone's number format: auto (bf16 where native: AMX/AVX512-BF16, CUDA), fp32, bf16
PRECISIONS = ("auto", "fp32", "bf16")
MAX_LAG_S = 2.0  # a live stream further behind than this drops its oldest unread audio to stay current
VAD_FRAME_S = 512 / SAMPLE_RATE  # Silero's frame (512 samples at 16 kHz): every voice-activity detector's grid
# The shortest --window: a shorter one holds no whole voice-activity frame, so it is never speech
# (and the model never runs on it). It also covers the default front end's STFT (n_fft 400 at
# 16 kHz needs 201 samples); a model whose front end needs more is checked once it is loaded.
MIN_WINDOW_S = VAD_FRAME_S

# -- live devices (listen) ------------------------------------------------------------------------
STALL_TIMEOUT_S = 5.0  # no audio from the device for this long: the session stops with a device error (0: never)
SILENCE_TIMEOUT_S = 30.0  # nothing but exact zeros (digital silence) this long: it stops too (0: never)
STOP_TIMEOUT_S = 0.5  # how long to wait for the audio library to stop a stream before abandoning it
WORKER_STOP_TIMEOUT_S = 30.0  # how long a stop waits for the batch being scored (a process ending under it aborts)
WATCH_TICK_S = 0.1  # how often the watchdog of a live device looks
MIC_STREAM = "mic"  # the stream name of a single device (several are named after their devices)

# -- voice activity ---------------------------------------------------------------------------
VAD_METHOD = "silero"  # silero | energy | off
VAD_METHODS = ("silero", "energy", "off")
VAD_THRESHOLD = 0.5  # Silero frame speech probability that starts speech
VAD_NEG_OFFSET = 0.15  # speech continues until the probability drops below threshold - this
VAD_LEVEL_SPAN_S = 5.0  # level normalisation before the VAD: peak over this many seconds
MIN_SPEECH = 0.2  # a stream window needs this fraction of speech frames to be classified
SILENCE_DB = -45.0  # energy VAD: frames quieter than this RMS level (dBFS) are not speech

# -- segments of files (emomon file) --------------------------------------------------------------
MIN_SPEECH_DURATION_S = 0.25  # shorter speech runs are dropped
MIN_SILENCE_S = 0.5  # shorter pauses inside speech are merged into one region
SPEECH_PAD_S = 0.1  # speech regions are widened by this much on each side
DECODE_BLOCK_S = 30.0  # long files are decoded and analysed in blocks of this many seconds
KEEP_DECODED_S = 60.0  # a file at most this long is decoded once (its second pass cuts from the first's blocks)

# -- emomon batch (Ray) -----------------------------------------------------------------------------
BATCH_SHARD_SIZE = 256  # files per Parquet shard: the unit a rerun skips
BATCH_FILES_PER_CALL = 16  # files per call of a Ray actor (--batch-size): their windows share forward passes

# -- speaker adaptation (models trained with speaker standardisation) -----------------------------
ADAPT = False  # off: adaptation loses on one-emotion sessions (benchmarks/adapt_skew.py; --adapt: on)

# -- answers that collapse into one class (a voice unlike the training ones; stream/familiarity.py) --
COLLAPSE_CHECK = True  # listen / file --stream mark a collapsed stream's answers "uncertain: unfamiliar voice" (--no-collapse-check: off)
COLLAPSE_SPAN_S = 60.0  # looked back over this many seconds of the stream
COLLAPSE_SHARE = 0.7  # one class holding more than this share of the span's speech windows ...
COLLAPSE_MARGIN = 0.3  # ... with a mean margin (top minus second probability) below this: collapsed
COLLAPSE_MIN_WINDOWS = 30  # fewer speech windows in the span are never called collapsed (15 s at a 0.5 s hop)

# -- answers ------------------------------------------------------------------------------------
MIN_CONFIDENCE: float | None = None  # off: no answer is marked uncertain
NO_SPEECH = "no speech"  # the reason given with label null
NONFINITE = "non-finite samples"  # a stream window holding NaN/Inf samples: not classified
TOO_SHORT = "too short"  # less real audio than MIN_SPEECH_DURATION_S (a clip of a few samples)
BAD_SCORES = "non-finite scores"  # the model answered NaN/Inf for a window: not shown as an answer
MIN_CLIP_S = 0.05  # training skips corpus clips shorter than this (logged with a count)
MAX_CLIP_S = 120.0  # ... and longer than this: a training clip is one utterance with one label (and memory stays bounded)

# -- serve (emomon serve: the monitor as a service) ------------------------------------------------
SERVE_HOST = "127.0.0.1"  # bound to localhost unless told otherwise
SERVE_PORT = 8765
SERVE_MAX_SESSIONS = 16  # concurrent streaming sessions; one more is answered "busy"
SERVE_RETRY_AFTER_S = 5.0  # what a "busy" answer tells the client to wait
SERVE_MAX_SESSION_S = 3600.0  # a streaming session ends (error session_too_long) after this much wall time
SERVE_MAX_FRAME_S = 0.25  # an audio frame longer than this (at its rate and encoding) is refused (frames should be 20-100 ms)
SERVE_IDLE_TIMEOUT_S = 30.0  # no message from the client this long (config, audio, keepalive): the session ends
SERVE_RING_S = 10.0  # each session's ring: unread audio beyond this drops the oldest (as a microphone's)
SERVE_OUT_QUEUE = 256  # messages waiting to go out to a session; a client that lets more pile up is closed
SERVE_MAX_UPLOAD_MB = 200.0  # POST /v1/analyze: a larger upload is refused (413)
SERVE_ANALYSES = 2  # uploads analysed at once (the others wait)
SERVE_PING_S = 20.0  # WebSocket ping interval and pong timeout: a client that stops reading is dropped
SERVE_SHUTDOWN_S = 5.0  # on SIGTERM: how long sessions get to receive their last records and summary
SERVE_API_KEY_ENV = "EMOMON_API_KEY"  # the environment variable holding the API key
