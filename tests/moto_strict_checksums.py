"""Run inside a moto server process (prepended to its start script by tests/conftest.py and
benchmarks/s3_transfer.py): refuse a PUT whose body does not match its x-amz-checksum-sha256 with 400
BadDigest and keep the checksum computed from the body, as S3 does. Not imported by the tests themselves."""

import base64
import hashlib

from moto.s3 import responses
from moto.s3.exceptions import S3ClientError

_moto_checksum = responses.S3Response._get_checksum


def _get_checksum(self, response_headers):
    claimed = self.headers.get("x-amz-checksum-sha256")
    if claimed is None:
        return _moto_checksum(self, response_headers)
    actual = base64.b64encode(hashlib.sha256(self.body or b"").digest()).decode()
    if actual != claimed:
        raise S3ClientError("BadDigest", "The SHA256 you specified did not match the calculated checksum.")
    response_headers["x-amz-checksum-sha256"] = actual
    return "SHA256", actual


responses.S3Response._get_checksum = _get_checksum
