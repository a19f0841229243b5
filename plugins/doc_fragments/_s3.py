# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.

from __future__ import annotations


class ModuleDocFragment:
    # The S3 connection options shared by every S3-backed module (module_utils/_s3/store.py S3_ARGSPEC).
    DOCUMENTATION = r"""
options:
  endpoint_url:
    description:
      - URL of an S3-compatible endpoint (MinIO, Ceph, moto, a VPC endpoint).
      - Leave unset for AWS itself. Path-style addressing is used when this is set.
    type: str
    aliases: [s3_url, aws_endpoint_url]
  region:
    description:
      - AWS region of the bucket. Defaults to the C(AWS_REGION)/C(AWS_DEFAULT_REGION) environment or the profile.
    type: str
    aliases: [aws_region]
  profile:
    description:
      - Named profile from the AWS shared credentials/config files.
    type: str
    aliases: [aws_profile]
  access_key:
    description:
      - AWS access key ID. Defaults to the standard chain (environment, profile, instance role).
      - Never printed; masked in results and logs.
    type: str
    aliases: [aws_access_key_id, aws_access_key]
  secret_key:
    description:
      - AWS secret access key. Defaults to the standard chain.
    type: str
    aliases: [aws_secret_access_key, aws_secret_key]
  session_token:
    description:
      - Session token for temporary credentials.
    type: str
    aliases: [aws_session_token]
  validate_certs:
    description:
      - Verify the endpoint's TLS certificate. Only turn off for a private test store.
    type: bool
    default: true
  retries:
    description:
      - How many times a failed S3 request is retried (throttling, 5xx, connection errors, timeouts),
        with exponential backoff and jitter, before the task fails with an error naming the object.
    type: int
    default: 5
  connect_timeout:
    description:
      - Seconds to wait for a connection to the S3 endpoint.
    type: float
    default: 10
  read_timeout:
    description:
      - Seconds to wait for data on an open connection before the attempt counts as failed.
    type: float
    default: 60
requirements:
  - boto3 >= 1.36 on the host that runs the module (the controller for controller-side modules)
notes:
  - All S3-backed modules of this collection are in the action group C(fleetops.release.s3), so these options
    can be set once with C(module_defaults).
"""
