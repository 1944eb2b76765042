"""The collector role: hooks and OTLP in (HTTP and gRPC), one batched writer out.

routes.py        install: the fast path in front, the OpenAPI description (services: server/wiring.py)
services.py      the writer store closer and GC tuning run beside the queue
asgi.py          the HTTP endpoints themselves (plain ASGI) and their error answers
pipeline.py      what HTTP and gRPC share: decode → records → the ingest queue
decoders.py      OTLP decoding on worker processes, sharded by session
body.py          request bodies: size limits, gzip/deflate, media types
auth.py          the optional ingest token
grpc_service.py  OTLP/gRPC, a Service started beside the HTTP servers
"""
