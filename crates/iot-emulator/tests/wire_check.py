"""Wire check: drives every emulator operation with botocore, an independent client generated
from the same service model as aws-sdk-iot, and asserts shapes, errors and semantics.

Usage: python wire_check.py http://127.0.0.1:PORT   (or IOT_EMULATOR_URL=...)
"""

import datetime
import json
import sys
import os
import urllib.request

import botocore.session
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

URL = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("IOT_EMULATOR_URL", "http://127.0.0.1:4566")
ACCOUNT = "123456789012"
ROLE = "arn:aws:iam::123456789012:role/defender"
CHECKS = 0


def client(region="us-east-1", validate=True, signed=True):
    cfg = Config(
        retries={"total_max_attempts": 1},
        parameter_validation=validate,
        signature_version="v4" if signed else UNSIGNED,
    )
    return botocore.session.get_session().create_client(
        "iot",
        region_name=region,
        endpoint_url=URL,
        aws_access_key_id="AKIDWIRECHECK",
        aws_secret_access_key="secret",
        config=cfg,
    )


def admin(path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(URL + "/_emulator/" + path, data=data, method="GET" if body is None else "POST")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"{}")


def check(cond, what):
    global CHECKS
    CHECKS += 1
    if not cond:
        raise AssertionError(what)


def expect_error(fn, code, status, field=None, **kwargs):
    try:
        fn(**kwargs)
    except ClientError as e:
        err = e.response["Error"]
        got_status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        check(err["Code"] == code, f"{fn.__name__}: expected {code}, got {err['Code']}: {err.get('Message')}")
        check(got_status == status, f"{fn.__name__}: expected HTTP {status}, got {got_status}")
        if field:
            check(field in err.get("Message", ""), f"{fn.__name__}: message should name {field}: {err.get('Message')}")
        return e.response
    raise AssertionError(f"{fn.__name__}({kwargs}) should fail with {code}")


BEHAVIOR = {
    "name": "sent",
    "metric": "aws:num-messages-sent",
    "criteria": {
        "comparisonOperator": "greater-than",
        "value": {"count": 100},
        "durationSeconds": 300,
        "consecutiveDatapointsToAlarm": 1,
        "consecutiveDatapointsToClear": 1,
    },
    "suppressAlerts": False,
}
ALERTS = {"SNS": {"alertTargetArn": "arn:aws:sns:us-east-1:123456789012:alerts", "roleArn": ROLE}}
EXPORT = {"mqttTopic": "$aws/rules/export", "roleArn": ROLE}
RETAIN = [{"metric": "aws:num-messages-received", "metricDimension": {"dimensionName": "TopicFilter", "operator": "IN"}}]


def crud(c, raw):
    admin("dimensions", {"name": "TopicFilter", "stringValues": ["devices/+/auth"]})
    out = c.create_security_profile(
        securityProfileName="wire",
        securityProfileDescription="wire check",
        behaviors=[BEHAVIOR],
        alertTargets=ALERTS,
        additionalMetricsToRetainV2=RETAIN,
        metricsExportConfig=EXPORT,
        tags=[{"Key": "team", "Value": "iot"}],
    )
    arn = f"arn:aws:iot:us-east-1:{ACCOUNT}:securityprofile/wire"
    check(out["securityProfileArn"] == arn, out)
    check(out["securityProfileName"] == "wire", out)

    d = c.describe_security_profile(securityProfileName="wire")
    check(d["version"] == 1, d)
    check(d["behaviors"] == [BEHAVIOR], d["behaviors"])
    check(d["alertTargets"] == ALERTS, d)
    check(d["additionalMetricsToRetainV2"] == RETAIN, d)
    check(d["metricsExportConfig"] == EXPORT, d)
    check(isinstance(d["creationDate"], datetime.datetime), "timestamps parse as epoch seconds")
    check(d["creationDate"] == d["lastModifiedDate"], d)
    check(d["creationDate"].year >= 2024, d["creationDate"])
    check(d["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/json", d["ResponseMetadata"])

    resp = expect_error(c.create_security_profile, "ResourceAlreadyExistsException", 409, securityProfileName="wire")
    check(resp.get("resourceArn") == arn, f"ResourceAlreadyExists carries resourceArn: {resp}")
    check(resp.get("resourceId") == "wire", resp)
    expect_error(c.describe_security_profile, "ResourceNotFoundException", 404, securityProfileName="absent")

    u = c.update_security_profile(securityProfileName="wire", securityProfileDescription="v2", expectedVersion=1)
    check(u["version"] == 2 and u["securityProfileDescription"] == "v2", u)
    check(u["behaviors"] == [BEHAVIOR] and u["metricsExportConfig"] == EXPORT, "unnamed fields kept")
    check(u["lastModifiedDate"] >= u["creationDate"], u)
    expect_error(c.update_security_profile, "VersionConflictException", 409,
                 securityProfileName="wire", securityProfileDescription="x", expectedVersion=1)
    u = c.update_security_profile(securityProfileName="wire", deleteBehaviors=True, deleteAlertTargets=True)
    check("behaviors" not in u and "alertTargets" not in u, u)
    check(u["additionalMetricsToRetainV2"] == RETAIN, u)
    u = c.update_security_profile(securityProfileName="wire", deleteAdditionalMetricsToRetain=True,
                                  deleteMetricsExportConfig=True)
    check("additionalMetricsToRetainV2" not in u and "metricsExportConfig" not in u, u)
    check(u["version"] == 4 and u["securityProfileDescription"] == "v2", u)
    expect_error(c.update_security_profile, "InvalidRequestException", 400, field="deleteBehaviors",
                 securityProfileName="wire", deleteBehaviors=True, behaviors=[BEHAVIOR])
    expect_error(c.update_security_profile, "ResourceNotFoundException", 404, securityProfileName="absent")

    # Validation the model defines, checked by the server (botocore's own checks are off here).
    expect_error(raw.create_security_profile, "InvalidRequestException", 400, field="securityProfileName",
                 securityProfileName="bad name")
    expect_error(raw.create_security_profile, "InvalidRequestException", 400,
                 field="behaviors.1.member.criteria.consecutiveDatapointsToAlarm",
                 securityProfileName="x", behaviors=[dict(BEHAVIOR, criteria=dict(BEHAVIOR["criteria"], consecutiveDatapointsToAlarm=0))])
    expect_error(raw.create_security_profile, "InvalidRequestException", 400,
                 field="behaviors.1.member.criteria.comparisonOperator",
                 securityProfileName="x", behaviors=[dict(BEHAVIOR, criteria=dict(BEHAVIOR["criteria"], comparisonOperator="bigger"))])
    expect_error(raw.create_security_profile, "InvalidRequestException", 400, field="metricsExportConfig.roleArn",
                 securityProfileName="x", metricsExportConfig={"mqttTopic": "t", "roleArn": "short"})
    expect_error(raw.list_security_profiles, "InvalidRequestException", 400, field="maxResults", maxResults=0)

    expect_error(c.delete_security_profile, "VersionConflictException", 409, securityProfileName="wire", expectedVersion=1)
    c.delete_security_profile(securityProfileName="wire", expectedVersion=4)
    expect_error(c.describe_security_profile, "ResourceNotFoundException", 404, securityProfileName="wire")
    c.delete_security_profile(securityProfileName="wire")  # gone already: still succeeds


def listing(c):
    names = [f"l{i:02d}" for i in range(11)]
    for n in names:
        c.create_security_profile(securityProfileName=n, behaviors=[BEHAVIOR])
    c.create_security_profile(securityProfileName="dim", additionalMetricsToRetainV2=RETAIN)
    seen = []
    for page in c.get_paginator("list_security_profiles").paginate(PaginationConfig={"PageSize": 3}):
        check(len(page["securityProfileIdentifiers"]) <= 3, page)
        seen += [i["name"] for i in page["securityProfileIdentifiers"]]
        for i in page["securityProfileIdentifiers"]:
            check(i["arn"] == f"arn:aws:iot:us-east-1:{ACCOUNT}:securityprofile/{i['name']}", i)
    check(seen == sorted(names + ["dim"]), f"pagination returns each profile once: {seen}")
    out = c.list_security_profiles(dimensionName="TopicFilter")
    check([i["name"] for i in out["securityProfileIdentifiers"]] == ["dim"], out)
    out = c.list_security_profiles(metricName="aws:num-messages-sent", maxResults=250)
    check(len(out["securityProfileIdentifiers"]) == 11 and "nextToken" not in out, out)
    expect_error(c.list_security_profiles, "InvalidRequestException", 400, dimensionName="a", metricName="b")
    expect_error(c.list_security_profiles, "InvalidRequestException", 400, nextToken="forged")


def targets(c):
    group = admin("thing-groups", {"name": "fleet"})["arn"]
    check(group == f"arn:aws:iot:us-east-1:{ACCOUNT}:thinggroup/fleet", group)
    registered = f"arn:aws:iot:us-east-1:{ACCOUNT}:all/registered-things"
    unregistered = f"arn:aws:iot:us-east-1:{ACCOUNT}:all/unregistered-things"
    for t in (group, registered, unregistered):
        c.attach_security_profile(securityProfileName="l00", securityProfileTargetArn=t)
    c.attach_security_profile(securityProfileName="l01", securityProfileTargetArn=group)
    got = []
    for page in c.get_paginator("list_targets_for_security_profile").paginate(
            securityProfileName="l00", PaginationConfig={"PageSize": 1}):
        got += [t["arn"] for t in page["securityProfileTargets"]]
    check(got == sorted([group, registered, unregistered]), got)
    m = c.list_security_profiles_for_target(securityProfileTargetArn=group, recursive=True)
    check([x["securityProfileIdentifier"]["name"] for x in m["securityProfileTargetMappings"]] == ["l00", "l01"], m)
    check(all(x["target"]["arn"] == group for x in m["securityProfileTargetMappings"]), m)
    c.detach_security_profile(securityProfileName="l00", securityProfileTargetArn=group)
    t = c.list_targets_for_security_profile(securityProfileName="l00")
    check(len(t["securityProfileTargets"]) == 2, t)
    ghost = f"arn:aws:iot:us-east-1:{ACCOUNT}:thinggroup/ghost"
    expect_error(c.attach_security_profile, "ResourceNotFoundException", 404,
                 securityProfileName="l00", securityProfileTargetArn=ghost)
    expect_error(c.attach_security_profile, "ResourceNotFoundException", 404,
                 securityProfileName="absent", securityProfileTargetArn=registered)
    expect_error(c.list_targets_for_security_profile, "ResourceNotFoundException", 404, securityProfileName="absent")
    expect_error(c.detach_security_profile, "ResourceNotFoundException", 404,
                 securityProfileName="absent", securityProfileTargetArn=registered)
    expect_error(c.list_security_profiles_for_target, "ResourceNotFoundException", 404, securityProfileTargetArn=ghost)


def validation(c):
    v = c.validate_security_profile_behaviors(behaviors=[BEHAVIOR])
    check(v["valid"] is True and v["validationErrors"] == [], v)
    ml = {"name": "ml", "metric": "aws:num-messages-sent", "criteria": {"mlDetectionConfig": {"confidenceLevel": "HIGH"}}}
    v = c.validate_security_profile_behaviors(behaviors=[BEHAVIOR, ml])
    check(v["valid"] is False and len(v["validationErrors"]) == 1, v)
    check("errorMessage" in v["validationErrors"][0], v)
    expect_error(c.validate_security_profile_behaviors, "InvalidRequestException", 400,
                 field="behaviors.1.member.criteria.mlDetectionConfig.confidenceLevel",
                 behaviors=[dict(ml, criteria={"mlDetectionConfig": {"confidenceLevel": "EXTREME"}})])
    # Criteria must fit the custom metric's type (operators, ML Detect only on number).
    admin("custom-metrics", {"metricName": "wifi", "metricType": "string-list"})
    admin("custom-metrics", {"metricName": "temp", "metricType": "number"})
    numeric = {"name": "n", "metric": "wifi", "criteria": {"comparisonOperator": "greater-than", "value": {"number": 1}}}
    in_set = {"name": "s", "metric": "wifi", "criteria": {"comparisonOperator": "in-set", "value": {"strings": ["home"]}}}
    ml_list = {"name": "m", "metric": "wifi", "criteria": {"mlDetectionConfig": {"confidenceLevel": "LOW"}}}
    ml_number = {"name": "t", "metric": "temp", "criteria": {"mlDetectionConfig": {"confidenceLevel": "LOW"}}}
    v = c.validate_security_profile_behaviors(behaviors=[in_set])
    check(v["valid"] is True, v)
    v = c.validate_security_profile_behaviors(behaviors=[ml_number])
    check(v["valid"] is True, v)
    v = c.validate_security_profile_behaviors(behaviors=[numeric])
    check(v["valid"] is False and "comparisonOperator greater-than" in v["validationErrors"][0]["errorMessage"], v)
    v = c.validate_security_profile_behaviors(behaviors=[ml_list])
    check(v["valid"] is False and "ML Detect" in v["validationErrors"][0]["errorMessage"], v)
    expect_error(c.create_security_profile, "InvalidRequestException", 400, field="wifi",
                 securityProfileName="typed", behaviors=[numeric])


def tags(c):
    arn = f"arn:aws:iot:us-east-1:{ACCOUNT}:securityprofile/l02"
    c.tag_resource(resourceArn=arn, tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    c.untag_resource(resourceArn=arn, tagKeys=["a"])
    t = c.list_tags_for_resource(resourceArn=arn)
    check(t["tags"] == [{"Key": "b", "Value": "2"}], t)
    missing = f"arn:aws:iot:us-east-1:{ACCOUNT}:securityprofile/absent"
    expect_error(c.tag_resource, "ResourceNotFoundException", 404, resourceArn=missing, tags=[{"Key": "a", "Value": "1"}])
    expect_error(c.untag_resource, "ResourceNotFoundException", 404, resourceArn=missing, tagKeys=["a"])
    expect_error(c.list_tags_for_resource, "ResourceNotFoundException", 404, resourceArn=missing)
    expect_error(c.tag_resource, "LimitExceededException", 410, resourceArn=arn,
                 tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])


def controls(c):
    eu = client("eu-west-1")
    check(eu.list_security_profiles()["securityProfileIdentifiers"] == [], "regions are partitioned")
    expect_error(eu.describe_security_profile, "ResourceNotFoundException", 404, securityProfileName="l00")

    admin("quotas", {"operation": "DescribeSecurityProfile", "tps": 0})
    expect_error(c.describe_security_profile, "ThrottlingException", 400, securityProfileName="l00")
    admin("quotas", {"operation": "DescribeSecurityProfile", "tps": None})

    admin("faults", {"operation": "*", "error": "InternalFailureException", "count": 1})
    expect_error(c.list_security_profiles, "InternalFailureException", 500)
    c.list_security_profiles()

    admin("iam", {"allow": ["iot:Describe*"]})
    expect_error(c.list_security_profiles, "AccessDeniedException", 403)
    admin("iam", {"allow": ["iot:*"]})
    expect_error(c.update_security_profile, "AccessDeniedException", 403, field="iam:PassRole",
                 securityProfileName="l00", metricsExportConfig=EXPORT)
    admin("iam", {"allow": ["*"]})

    expect_error(client(signed=False).list_security_profiles, "MissingAuthenticationTokenException", 403)

    calls = admin("calls")
    check(calls["DescribeSecurityProfile"]["ThrottlingException"] == 1, calls)
    check(calls["ListSecurityProfiles"]["InternalFailureException"] == 1, calls)
    check(calls["ListSecurityProfiles"]["AccessDeniedException"] == 1, calls)
    check(calls["UpdateSecurityProfile"]["AccessDeniedException"] == 1, calls)
    state = admin("state")
    check(len(state["profiles"]) == 12 and state["thingGroups"][0]["name"] == "fleet", state)


def iam_policy(c):
    admin("reset", {})
    cluster = "iot.awscc.io/cluster"
    admin("profiles", {"securityProfileName": "ours", "tags": {cluster: "a"}})
    admin("profiles", {"securityProfileName": "theirs", "tags": {cluster: "b"}})
    admin("iam", {"policy": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:UpdateSecurityProfile", "Resource": "*",
         "Condition": {"StringEquals": {f"aws:ResourceTag/{cluster}": "a"}}},
        {"Effect": "Allow", "Action": "iot:CreateSecurityProfile", "Resource": "*",
         "Condition": {"StringEquals": {f"aws:RequestTag/{cluster}": "a"}}},
    ]}})
    c.update_security_profile(securityProfileName="ours", securityProfileDescription="x")
    r = expect_error(c.update_security_profile, "AccessDeniedException", 403,
                     securityProfileName="theirs", securityProfileDescription="x")
    arn = f"arn:aws:iot:us-east-1:{ACCOUNT}:securityprofile/theirs"
    check(r["Error"]["Message"] == f"User: arn:aws:iam::{ACCOUNT}:user/AKIDWIRECHECK is not authorized to perform: "
          f"iot:UpdateSecurityProfile on resource: {arn} because no identity-based policy allows the "
          "iot:UpdateSecurityProfile action", r["Error"])
    c.create_security_profile(securityProfileName="new", tags=[{"Key": cluster, "Value": "a"}])
    expect_error(c.create_security_profile, "AccessDeniedException", 403, securityProfileName="untagged")

    # The same conditions on custom metrics and dimensions (their own ARNs carry the tags).
    admin("custom-metrics", {"metricName": "ours", "metricType": "number", "tags": {cluster: "a"}})
    admin("custom-metrics", {"metricName": "theirs", "metricType": "number", "tags": {cluster: "b"}})
    admin("dimensions", {"name": "theirs", "type": "TOPIC_FILTER", "stringValues": ["t/#"], "tags": {cluster: "b"}})
    admin("iam", {"policy": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Resource": "*",
         "Action": ["iot:UpdateCustomMetric", "iot:DeleteCustomMetric", "iot:UpdateDimension"],
         "Condition": {"StringEquals": {f"aws:ResourceTag/{cluster}": "a"}}},
        {"Effect": "Allow", "Action": ["iot:CreateCustomMetric", "iot:CreateDimension"], "Resource": "*",
         "Condition": {"StringEquals": {f"aws:RequestTag/{cluster}": "a"}}},
    ]}})
    c.update_custom_metric(metricName="ours", displayName="x")
    marn = f"arn:aws:iot:us-east-1:{ACCOUNT}:custommetric/theirs"
    r = expect_error(c.update_custom_metric, "AccessDeniedException", 403, metricName="theirs", displayName="x")
    check(r["Error"]["Message"] == f"User: arn:aws:iam::{ACCOUNT}:user/AKIDWIRECHECK is not authorized to perform: "
          f"iot:UpdateCustomMetric on resource: {marn} because no identity-based policy allows the "
          "iot:UpdateCustomMetric action", r["Error"])
    expect_error(c.delete_custom_metric, "AccessDeniedException", 403, metricName="theirs")
    expect_error(c.update_dimension, "AccessDeniedException", 403, name="theirs", stringValues=["u/#"])
    c.create_custom_metric(metricName="new", metricType="number", tags=[{"Key": cluster, "Value": "a"}])
    expect_error(c.create_custom_metric, "AccessDeniedException", 403, metricName="untagged", metricType="number")
    expect_error(c.create_dimension, "AccessDeniedException", 403, name="untagged", type="TOPIC_FILTER",
                 stringValues=["t/#"])
    state = admin("state")
    names = sorted(m["metricName"] for m in state["customMetrics"])
    check(names == ["new", "ours", "theirs"] and state["dimensions"][0]["stringValues"] == ["t/#"], state)
    admin("reset", {})


def normalization(c):
    admin("reset", {})
    behavior = {"name": "ports", "metric": "aws:listening-tcp-ports",
                "metricDimension": {"dimensionName": "TopicFilter"},
                "criteria": {"comparisonOperator": "in-port-set", "value": {"ports": [22, 443]}}}
    admin("dimensions", {"name": "TopicFilter", "stringValues": ["t/#"]})
    c.create_security_profile(securityProfileName="n", behaviors=[behavior],
                              additionalMetricsToRetain=["aws:num-disconnects", "aws:num-authorization-failures"])
    d = c.describe_security_profile(securityProfileName="n")
    check(d["behaviors"] == [behavior], d["behaviors"])
    check(d["additionalMetricsToRetain"] == ["aws:num-disconnects", "aws:num-authorization-failures"], d)
    check(d["additionalMetricsToRetainV2"] == [{"metric": "aws:num-disconnects"},
                                               {"metric": "aws:num-authorization-failures"}], d)
    admin("normalize", {"enabled": True})
    b = c.describe_security_profile(securityProfileName="n")["behaviors"][0]
    check(b["criteria"]["value"]["ports"] == [443, 22], b)
    check(b["suppressAlerts"] is False and b["exportMetric"] is False, b)
    check(b["criteria"]["consecutiveDatapointsToAlarm"] == 1, b)
    check(b["metricDimension"] == {"dimensionName": "TopicFilter", "operator": "IN"}, b)
    admin("reset", {})


def sts_client(key="AKIDWIRECHECK", secret="secret", token=None, validate=True):
    cfg = Config(retries={"total_max_attempts": 1}, parameter_validation=validate)
    return botocore.session.get_session().create_client(
        "sts", region_name="us-east-1", endpoint_url=URL, aws_access_key_id=key,
        aws_secret_access_key=secret, aws_session_token=token, config=cfg)


def iot_with(creds):
    return botocore.session.get_session().create_client(
        "iot", region_name="us-east-1", endpoint_url=URL, aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"],
        config=Config(retries={"total_max_attempts": 1}))


def sts(c):
    admin("reset", {})
    role = "arn:aws:iam::111111111111:role/tenant"
    s = sts_client()
    r = expect_error(s.assume_role, "AccessDenied", 403, RoleArn=role, RoleSessionName="wire")
    check(r["Error"]["Message"] == f"User: arn:aws:iam::{ACCOUNT}:user/AKIDWIRECHECK is not authorized to perform: "
          f"sts:AssumeRole on resource: {role}", r["Error"])
    admin("roles", {"roleArn": role, "trustedAccounts": [ACCOUNT], "externalId": "ext"})
    expect_error(s.assume_role, "AccessDenied", 403, RoleArn=role, RoleSessionName="wire", ExternalId="bad")
    out = s.assume_role(RoleArn=role, RoleSessionName="wire", ExternalId="ext", DurationSeconds=900)
    creds = out["Credentials"]
    check(creds["AccessKeyId"].startswith("ASIA") and len(creds["SecretAccessKey"]) == 40, creds)
    left = (creds["Expiration"] - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    check(880 < left <= 901, f"Expiration parses and is DurationSeconds ahead: {creds['Expiration']}")
    check(out["AssumedRoleUser"]["Arn"] == "arn:aws:sts::111111111111:assumed-role/tenant/wire", out)
    expect_error(sts_client(validate=False).assume_role, "ValidationError", 400, RoleArn=role, RoleSessionName="wire",
                 ExternalId="ext", DurationSeconds=60)
    tenant = iot_with(creds)
    tenant.create_security_profile(securityProfileName="tenant-profile")
    c.create_security_profile(securityProfileName="own-profile")
    accounts = {p["securityProfileName"]: p["accountId"] for p in admin("state")["profiles"]}
    check(accounts == {"tenant-profile": "111111111111", "own-profile": ACCOUNT}, accounts)
    who = sts_client(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]).get_caller_identity()
    check(who["Account"] == "111111111111", who)
    web = sts_client().assume_role_with_web_identity(RoleArn=role, RoleSessionName="pod", WebIdentityToken="token")
    check(web["Credentials"]["AccessKeyId"].startswith("ASIA"), web)
    admin("sts", {"durationSeconds": 0})
    expired = iot_with(s.assume_role(RoleArn=role, RoleSessionName="wire", ExternalId="ext")["Credentials"])
    expect_error(expired.list_security_profiles, "ExpiredTokenException", 403)
    calls = admin("calls")
    check(calls["AssumeRole"] == {"ok": 2, "AccessDenied": 2, "ValidationError": 1}, calls)
    admin("reset", {})


def dependencies(c, raw):
    admin("reset", {})
    d = c.create_dimension(name="topics", type="TOPIC_FILTER", stringValues=["a/#"],
                           tags=[{"Key": "team", "Value": "iot"}], clientRequestToken="tok1")
    darn = f"arn:aws:iot:us-east-1:{ACCOUNT}:dimension/topics"
    check(d["name"] == "topics" and d["arn"] == darn, d)
    again = c.create_dimension(name="topics", type="TOPIC_FILTER", stringValues=["a/#"], clientRequestToken="tok1")
    check(again["arn"] == darn, "a retry with the same token succeeds")
    r = expect_error(c.create_dimension, "ResourceAlreadyExistsException", 409, name="topics", type="TOPIC_FILTER",
                     stringValues=["a/#"], clientRequestToken="tok2")
    check(r.get("resourceArn") == darn, r)
    desc = c.describe_dimension(name="topics")
    check(desc["type"] == "TOPIC_FILTER" and desc["stringValues"] == ["a/#"], desc)
    check(isinstance(desc["creationDate"], datetime.datetime), desc)
    u = c.update_dimension(name="topics", stringValues=["b/#", "c/#"])
    check(u["stringValues"] == ["b/#", "c/#"] and u["arn"] == darn, u)
    expect_error(raw.create_dimension, "InvalidRequestException", 400, field="type", name="bad", type="QUEUE",
                 stringValues=["x"], clientRequestToken="t")
    expect_error(raw.create_dimension, "InvalidRequestException", 400, field="stringValues", name="bad",
                 type="TOPIC_FILTER", stringValues=[], clientRequestToken="t")
    expect_error(c.describe_dimension, "ResourceNotFoundException", 404, name="nope")
    check(c.list_tags_for_resource(resourceArn=darn)["tags"] == [{"Key": "team", "Value": "iot"}], "dimension tags")

    m = c.create_custom_metric(metricName="battery", metricType="number", displayName="Battery level")
    marn = f"arn:aws:iot:us-east-1:{ACCOUNT}:custommetric/battery"
    check(m == {"metricName": "battery", "metricArn": marn, "ResponseMetadata": m["ResponseMetadata"]}, m)
    dm = c.describe_custom_metric(metricName="battery")
    check(dm["metricType"] == "number" and dm["displayName"] == "Battery level", dm)
    um = c.update_custom_metric(metricName="battery", displayName="Battery %")
    check(um["displayName"] == "Battery %" and um["metricArn"] == marn, um)
    expect_error(c.create_custom_metric, "InvalidRequestException", 400, metricName="aws:mine", metricType="number")
    expect_error(raw.create_custom_metric, "InvalidRequestException", 400, field="metricType",
                 metricName="m2", metricType="float", clientRequestToken="t")
    c.tag_resource(resourceArn=marn, tags=[{"Key": "k", "Value": "v"}])
    check(c.list_tags_for_resource(resourceArn=marn)["tags"] == [{"Key": "k", "Value": "v"}], "metric tags")
    check(c.list_custom_metrics()["metricNames"] == ["battery"], "list custom metrics")

    uses = {"name": "low", "metric": "battery", "metricDimension": None,
            "criteria": {"comparisonOperator": "less-than", "value": {"number": 20}}}
    del uses["metricDimension"]
    topic = {"name": "sent", "metric": "aws:num-messages-sent", "metricDimension": {"dimensionName": "topics"},
             "criteria": {"comparisonOperator": "greater-than", "value": {"count": 5}}}
    expect_error(c.create_security_profile, "InvalidRequestException", 400, field="nope",
                 securityProfileName="x", behaviors=[dict(uses, metric="nope")])
    expect_error(c.create_security_profile, "InvalidRequestException", 400, field="ghost",
                 securityProfileName="x", behaviors=[dict(topic, metricDimension={"dimensionName": "ghost"})])
    c.create_security_profile(securityProfileName="user", behaviors=[uses, topic])
    by_metric = c.list_security_profiles(metricName="battery")["securityProfileIdentifiers"]
    by_dim = c.list_security_profiles(dimensionName="topics")["securityProfileIdentifiers"]
    check([i["name"] for i in by_metric] == ["user"] and [i["name"] for i in by_dim] == ["user"], (by_metric, by_dim))
    expect_error(c.delete_custom_metric, "InvalidRequestException", 400, field="user", metricName="battery")
    expect_error(c.delete_dimension, "InvalidRequestException", 400, field="user", name="topics")
    c.delete_security_profile(securityProfileName="user")
    c.delete_custom_metric(metricName="battery")
    c.delete_dimension(name="topics")
    c.delete_dimension(name="topics")
    expect_error(c.describe_custom_metric, "ResourceNotFoundException", 404, metricName="battery")

    for i in range(10):
        c.create_dimension(name=f"d{i}", type="TOPIC_FILTER", stringValues=["t"])
    expect_error(c.create_dimension, "LimitExceededException", 410, name="d10", type="TOPIC_FILTER", stringValues=["t"])
    p1 = c.list_dimensions(maxResults=4)
    p2 = c.list_dimensions(maxResults=10, nextToken=p1["nextToken"])
    check(p1["dimensionNames"] + p2["dimensionNames"] == [f"d{i}" for i in range(10)], (p1, p2))
    calls = admin("calls")
    check(calls["CreateDimension"]["LimitExceededException"] == 1 and calls["DeleteDimension"]["ok"] == 2, calls)
    state = admin("state")
    check(len(state["dimensions"]) == 10 and state["customMetrics"] == [], state)
    admin("reset", {})


def violations(c, raw):
    c.create_security_profile(securityProfileName="watched", behaviors=[
        BEHAVIOR, dict(BEHAVIOR, name="hushed", suppressAlerts=True)])
    for i in range(5):
        admin("violations", {"securityProfileName": "watched", "thingName": f"t{i}",
                             "behaviorName": BEHAVIOR["name"], "value": {"count": 40 + i},
                             "time": 1700000000 + i})
    admin("violations", {"securityProfileName": "watched", "thingName": "t0", "behaviorName": "hushed",
                         "verificationState": "BENIGN_POSITIVE"})
    seen = []
    for page in c.get_paginator("list_active_violations").paginate(
            securityProfileName="watched", PaginationConfig={"PageSize": 2}):
        check(len(page["activeViolations"]) <= 2, page)
        for v in page["activeViolations"]:
            check(v["securityProfileName"] == "watched" and v["behavior"]["name"] == BEHAVIOR["name"], v)
            check(isinstance(v["lastViolationTime"], datetime.datetime), v)
            check(isinstance(v["violationStartTime"], datetime.datetime), v)
            check(v["lastViolationValue"]["count"] >= 40 and v["violationId"], v)
            seen.append(v["thingName"])
    check(sorted(seen) == [f"t{i}" for i in range(5)], f"each violation once, none suppressed: {seen}")
    out = c.list_active_violations(securityProfileName="watched", listSuppressedAlerts=True, thingName="t0")
    check(sorted(v["behavior"]["name"] for v in out["activeViolations"]) == sorted([BEHAVIOR["name"], "hushed"]), out)
    out = c.list_active_violations(verificationState="BENIGN_POSITIVE", listSuppressedAlerts=True)
    check([v["verificationState"] for v in out["activeViolations"]] == ["BENIGN_POSITIVE"], out)
    out = c.list_active_violations(behaviorCriteriaType="STATISTICAL")
    check(out["activeViolations"] == [], out)
    expect_error(c.list_active_violations, "ResourceNotFoundException", 404, securityProfileName="nobody")
    expect_error(raw.list_active_violations, "InvalidRequestException", 400, maxResults=251)
    admin("violations", {"securityProfileName": "watched", "thingName": "t1", "clear": True})
    out = c.list_active_violations(securityProfileName="watched", thingName="t1")
    check(out["activeViolations"] == [], f"cleared: {out}")


def every_resource_touched(c):
    """A request is authorized on every resource it touches (Service Authorization Reference):
    the profile, the custom metrics and dimensions it names, a thing-group target."""
    admin("reset", {})
    admin("custom-metrics", {"metricName": "battery", "metricType": "number"})
    admin("dimensions", {"name": "topics", "type": "TOPIC_FILTER", "stringValues": ["t/#"]})
    group = admin("thing-groups", {"name": "fleet"})["arn"]
    profile_only = {"Effect": "Allow", "Resource": f"arn:aws:iot:*:{ACCOUNT}:securityprofile/*", "Action": [
        "iot:CreateSecurityProfile", "iot:UpdateSecurityProfile", "iot:DeleteSecurityProfile",
        "iot:AttachSecurityProfile", "iot:DetachSecurityProfile"]}
    admin("iam", {"policy": {"Version": "2012-10-17", "Statement": [profile_only]}})
    uses = dict(BEHAVIOR, name="battery-low", metric="battery",
                criteria=dict(BEHAVIOR["criteria"], comparisonOperator="less-than", value={"number": 5}))
    r = expect_error(c.create_security_profile, "AccessDeniedException", 403,
                     securityProfileName="p", behaviors=[uses])
    check(f":custommetric/battery" in r["Error"]["Message"], r["Error"])
    dim = dict(BEHAVIOR, metricDimension={"dimensionName": "topics"})
    r = expect_error(c.create_security_profile, "AccessDeniedException", 403,
                     securityProfileName="p", behaviors=[dim])
    check(f":dimension/topics" in r["Error"]["Message"], r["Error"])
    # The account-wide targets are no resource type: the profile alone is checked.
    c.create_security_profile(securityProfileName="plain", behaviors=[BEHAVIOR])
    everyone = f"arn:aws:iot:us-east-1:{ACCOUNT}:all/registered-things"
    c.attach_security_profile(securityProfileName="plain", securityProfileTargetArn=everyone)
    r = expect_error(c.attach_security_profile, "AccessDeniedException", 403,
                     securityProfileName="plain", securityProfileTargetArn=group)
    check(":thinggroup/fleet" in r["Error"]["Message"], r["Error"])
    uses_resources = {"Effect": "Allow", "Action": profile_only["Action"], "Resource": [
        f"arn:aws:iot:*:{ACCOUNT}:custommetric/*", f"arn:aws:iot:*:{ACCOUNT}:dimension/*",
        f"arn:aws:iot:*:{ACCOUNT}:thinggroup/*"]}
    admin("iam", {"policy": {"Version": "2012-10-17", "Statement": [profile_only, uses_resources]}})
    c.create_security_profile(securityProfileName="p", behaviors=[uses, dim])
    c.attach_security_profile(securityProfileName="p", securityProfileTargetArn=group)
    c.detach_security_profile(securityProfileName="p", securityProfileTargetArn=group)
    c.delete_security_profile(securityProfileName="p")
    admin("reset", {})


def main():
    admin("reset", {})
    c, raw = client(), client(validate=False)
    for step in (crud, listing, targets, validation, tags, controls, iam_policy, every_resource_touched,
                 normalization, sts,
                 dependencies, violations):
        step(c) if step not in (crud, dependencies, violations) else step(c, raw)
        print(f"ok {step.__name__}")
    admin("reset", {})
    print(f"wire check passed: {CHECKS} checks against {URL}")


if __name__ == "__main__":
    main()
