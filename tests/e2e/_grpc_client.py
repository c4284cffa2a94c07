"""A real gRPC client for a generated project: its proto compiled here, over TLS through the edge.

The messages come from the project's own `proto/app.proto` (compiled by grpcio-tools into a
descriptor set, loaded into a private descriptor pool, so several projects' protos never
clash in one test process); the channel trusts the project's self-signed certificate.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc


class Client:
    """Calls `<package>.<Entity>Service/<Method>` of one project's app through `target`."""

    def __init__(self, proto: Path, target: str, cert: Path):
        from grpc_tools import protoc

        include = Path(protoc.__file__).parent / "_proto"
        with tempfile.TemporaryDirectory() as work:
            out = Path(work) / "app.pb"
            status = protoc.main(["protoc", f"-I{proto.parent}", f"-I{include}", "--include_imports",
                                  f"--descriptor_set_out={out}", str(proto)])
            assert status == 0, f"protoc failed on {proto}"
            files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file
        pool = descriptor_pool.DescriptorPool()
        for file in files:
            pool.Add(file)
        self.package = next(f.package for f in files if f.name == "app.proto")
        self.messages: dict[str, Any] = message_factory.GetMessages(list(files), pool=pool)
        credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        self.channel = grpc.secure_channel(target, credentials)

    def message(self, name: str, **fields: Any) -> Any:
        return self.messages[f"{self.package}.{name}"](**fields)

    def call(self, entity: str, method: str, request: Any, response: str) -> Any:
        stub = self.channel.unary_unary(
            f"/{self.package}.{entity}Service/{method}",
            request_serializer=type(request).SerializeToString,
            response_deserializer=self.messages[response if "." in response
                                                else f"{self.package}.{response}"].FromString)
        return stub(request, timeout=30)

    def health(self, service: str = "") -> int:
        answer = health_pb2_grpc.HealthStub(self.channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=30)
        status: int = answer.status
        return status

    def close(self) -> None:
        self.channel.close()


SERVING = health_pb2.HealthCheckResponse.SERVING
