#!/usr/bin/env python
# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sets up and inspects ELBv2 on the loopback moto server, behind the module's back.

  elbv2ctl.py setup              a VPC, a subnet, three instances, target groups `web` (instances, port 80)
                                 and `ips` (IP addresses); prints them as JSON extra vars
  elbv2ctl.py health ARN ID      the target's registrations as `id:port=state` lines, or `absent`
"""

from __future__ import annotations

import json
import os
import sys

import boto3


def client(service: str):
    return boto3.client(service, endpoint_url=os.environ["MOTO_ENDPOINT"], region_name="us-east-1")


def setup() -> None:
    ec2, elb = client("ec2"), client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ids = [i["InstanceId"] for i in ec2.run_instances(ImageId=image, MinCount=4, MaxCount=4, SubnetId=subnet)["Instances"]]
    web = elb.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="instance")["TargetGroups"][0]
    elb.modify_target_group_attributes(TargetGroupArn=web["TargetGroupArn"], Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "5"}])
    ips = elb.create_target_group(Name="ips", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip")["TargetGroups"][0]
    arn = web["TargetGroupArn"]
    json.dump(dict(tg_arn=arn, ip_tg_arn=ips["TargetGroupArn"], inst_a=ids[0], inst_b=ids[1], inst_c=ids[2], inst_d=ids[3],
                   missing_arn=arn.rsplit("/", 1)[0] + "/0000000000000000"), sys.stdout)


def health(arn: str, target_id: str) -> None:
    found = [d for d in client("elbv2").describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
             if d["Target"]["Id"] == target_id]
    print("\n".join("%s:%s=%s" % (d["Target"]["Id"], d["Target"].get("Port"), d["TargetHealth"]["State"]) for d in found) or "absent")


if __name__ == "__main__":
    if sys.argv[1] == "setup":
        setup()
    else:
        health(sys.argv[2], sys.argv[3])
