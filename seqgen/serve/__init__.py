"""``seqgen serve``: a local web playground and a JSON API over the same functions as the CLI.

Routes (every error is ``{"error": "..."}`` with a 4xx status, never a traceback):

- ``GET  /``                            the page (``seqgen/serve/web/``: plain HTML, JS and CSS, no CDN)
- ``GET  /api/checkpoints``             the runs under the checkpoint folder and their facts, and the
                                        ``defaults`` a request gets for the fields it leaves out
- ``POST /api/generate/text``           server-sent events: ``text`` events ``{"sample", "text"}``
                                        (each sample's seed first, then new pieces), then ``done``
                                        ``{"texts"}`` or ``error`` ``{"error"}``; with ``keep``/``rank``
                                        every sample streams and ``done`` has the kept ``texts``, best
                                        first, and ``kept``: their scores (``sample``, ``nll``, ``copied``)
- ``POST /api/generate/music``          JSON: per sample, URLs of its .mid, .musicxml, .wav and .png
                                        (and its ``score`` when ``keep``/``rank`` ranked them)
- ``GET  /api/files/<id>/<name>``       a file a music generation wrote
- ``GET  /api/runs/<name>/loss.png``    a run's loss curve

A checkpoint is chosen by run name from the listing, never by a path from the request. Output
files live in a temporary folder owned by the server under random ids. Loaded models are cached
per file and modification time, so a run that is still training shows its newest ``best.pt``.
Requests must name the server in their Host header as it is reachable (``--allow-host`` adds names).

The modules, in the order a request meets them:

- ``guard``    the Host header check (against DNS rebinding) and the same-origin policy headers
- ``app``      the Starlette app: routes, their handlers, errors, ``serve()``
- ``fields``   the JSON body and its fields, checked and turned into a ``SampleRequest``
- ``catalog``  the runs under the checkpoint folder and their loaded models
- ``stream``   a text generation in a worker thread, streamed as server-sent events
- ``outputs``  the files music generations write, and the limit on generations at once
"""

from seqgen.serve.app import create_app, serve

__all__ = ["create_app", "serve"]
