"""What one DynamoDB request costs the function itself: boto3's CPU per call, against a local stub.

A Lambda function waits on DynamoDB's network round trips, but it also spends CPU on every request
(building, signing, sending and parsing it), under one GIL however many threads send them. That CPU is
measured here: the ingest's own kinds of request (a strongly consistent member query for versions, a
batch write of 25 packed evidence items) sent by a boto3 client to an HTTP endpoint in another process
that answers at once, from 16 threads as `DynamoClaimVersionRepository` reads. The stub's work is not
counted (it is another process); the network is not either (it is loopback).
"""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config

THREADS = 16
_ITEM_TEXT = "x" * 6000
"""A packed evidence item is about 6 KB on the benchmark file (WCU per item)."""


class _Answer(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        query = "Query" in self.headers.get("X-Amz-Target", "")
        body = json.dumps({"Items": [], "Count": 0} if query else {"UnprocessedItems": {}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # the base class names it `format`
        return


def serve() -> None:
    """Answer DynamoDB JSON requests on a free port of 127.0.0.1, printed first, until killed."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def client_cpu_ms_per_request(queries: int = 2000, writes: int = 400) -> dict[str, float]:
    """Client CPU milliseconds per `query` and per `batch_write` (25 items of 6 KB), 16 threads."""
    stub = subprocess.Popen([sys.executable, "-m", "bench._dynamodb_stub"], stdout=subprocess.PIPE, text=True)
    try:
        assert stub.stdout is not None
        port = int(stub.stdout.readline())
        client = boto3.client(
            "dynamodb",
            region_name="us-east-1",
            endpoint_url=f"http://127.0.0.1:{port}",
            aws_access_key_id="stub",
            aws_secret_access_key="stub",
            config=Config(max_pool_connections=THREADS),
        )
        item = {
            "pk": {"S": "MEMBER#SYN00000001"},
            "sk": {"S": "EVID#" + "a" * 64 + "#0123456789abcdef"},
            "evidence": {"S": _ITEM_TEXT},
            "digest": {"S": "0123456789abcdef"},
        }

        def query(n: int) -> object:
            return client.query(
                TableName="gaps",
                ConsistentRead=True,
                KeyConditionExpression="pk = :p AND begins_with(sk, :v)",
                ExpressionAttributeValues={":p": {"S": f"MEMBER#SYN{n:08d}"}, ":v": {"S": "VER#"}},
            )

        def write(n: int) -> object:
            return client.batch_write_item(RequestItems={"gaps": [{"PutRequest": {"Item": item}}] * 25})

        found = {}
        for name, call, count in (("query", query, queries), ("batch_write", write, writes)):
            list(map(call, range(20)))  # warm: connections open, models loaded
            cpu = time.process_time()
            with ThreadPoolExecutor(THREADS) as pool:
                list(pool.map(call, range(count)))
            found[name] = (time.process_time() - cpu) * 1000 / count
        return found
    finally:
        stub.kill()
        stub.wait()


if __name__ == "__main__":
    serve()
