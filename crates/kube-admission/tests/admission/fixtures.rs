//! A SecurityProfile schema shaped like the operator's CRD (api.md), and objects for it.

use serde_json::{Value, json};

const NAME_PATTERN: &str = "^[a-zA-Z0-9:_-]+$";

fn name_field() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 128, "pattern": NAME_PATTERN})
}

fn role_arn() -> Value {
    json!({"type": "string", "minLength": 20, "maxLength": 2048})
}

fn metric_dimension() -> Value {
    json!({
        "type": "object",
        "required": ["dimensionName"],
        "properties": {
            "dimensionName": name_field(),
            "operator": {"type": "string", "enum": ["IN", "NOT_IN"]}
        }
    })
}

pub fn security_profile_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {
                "type": "object",
                "x-kubernetes-validations": [
                    {
                        "rule": "!has(oldSelf.securityProfileName) || has(self.securityProfileName)",
                        "message": "securityProfileName cannot be removed once set"
                    },
                    {
                        "rule": "!has(oldSelf.region) || has(self.region)",
                        "message": "region cannot be removed once set"
                    },
                    {
                        "rule": "!has(self.behaviors) || self.behaviors.all(b, has(b.criteria) && has(b.criteria.mlDetectionConfig)) || self.behaviors.all(b, !has(b.criteria) || !has(b.criteria.mlDetectionConfig))",
                        "message": "a profile cannot mix ML behaviors with rule behaviors",
                        "fieldPath": ".behaviors"
                    }
                ],
                "properties": {
                    "securityProfileName": {
                        "type": "string", "minLength": 1, "maxLength": 128, "pattern": NAME_PATTERN,
                        "x-kubernetes-validations": [
                            {"rule": "self == oldSelf", "message": "securityProfileName is immutable"}
                        ]
                    },
                    "region": {
                        "type": "string",
                        "x-kubernetes-validations": [
                            {"rule": "self == oldSelf", "message": "region is immutable"}
                        ]
                    },
                    "securityProfileDescription": {"type": "string", "maxLength": 1000},
                    "behaviors": {
                        "type": "array",
                        "maxItems": 100,
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {
                                "name": name_field(),
                                "metric": {"type": "string", "minLength": 1, "maxLength": 128},
                                "metricDimension": metric_dimension(),
                                "criteria": {
                                    "type": "object",
                                    "x-kubernetes-validations": [{
                                        "rule": "!has(self.mlDetectionConfig) || (!has(self.value) && !has(self.statisticalThreshold))",
                                        "message": "mlDetectionConfig cannot be combined with value or statisticalThreshold"
                                    }],
                                    "properties": {
                                        "comparisonOperator": {
                                            "type": "string",
                                            "enum": ["less-than", "less-than-equals", "greater-than",
                                                     "greater-than-equals", "in-cidr-set", "not-in-cidr-set",
                                                     "in-port-set", "not-in-port-set", "in-set", "not-in-set"]
                                        },
                                        "value": {
                                            "type": "object",
                                            "properties": {
                                                "count": {"type": "integer", "format": "int64", "minimum": 0},
                                                "cidrs": {"type": "array", "items": {"type": "string", "minLength": 2, "maxLength": 43}},
                                                "ports": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 65535}},
                                                "number": {"type": "number", "format": "double"},
                                                "numbers": {"type": "array", "items": {"type": "number", "format": "double"}},
                                                "strings": {"type": "array", "items": {"type": "string"}}
                                            }
                                        },
                                        "durationSeconds": {"type": "integer", "format": "int32"},
                                        "consecutiveDatapointsToAlarm": {"type": "integer", "minimum": 1, "maximum": 10},
                                        "consecutiveDatapointsToClear": {"type": "integer", "minimum": 1, "maximum": 10},
                                        "statisticalThreshold": {
                                            "type": "object",
                                            "properties": {
                                                "statistic": {"type": "string", "enum": ["p0", "p0.1", "p0.01", "p1", "p10", "p50", "p90", "p99", "p99.9", "p99.99", "p100"]}
                                            }
                                        },
                                        "mlDetectionConfig": {
                                            "type": "object",
                                            "required": ["confidenceLevel"],
                                            "properties": {
                                                "confidenceLevel": {"type": "string", "enum": ["LOW", "MEDIUM", "HIGH"]}
                                            }
                                        }
                                    }
                                },
                                "suppressAlerts": {"type": "boolean"},
                                "exportMetric": {"type": "boolean"}
                            }
                        }
                    },
                    "alertTargets": {
                        "type": "object",
                        "properties": {
                            "SNS": {
                                "type": "object",
                                "required": ["alertTargetArn", "roleArn"],
                                "properties": {
                                    "alertTargetArn": {"type": "string"},
                                    "roleArn": role_arn()
                                }
                            }
                        }
                    },
                    "additionalMetricsToRetainV2": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["metric"],
                            "properties": {
                                "metric": {"type": "string"},
                                "metricDimension": metric_dimension(),
                                "exportMetric": {"type": "boolean"}
                            }
                        }
                    },
                    "metricsExportConfig": {
                        "type": "object",
                        "required": ["mqttTopic", "roleArn"],
                        "properties": {
                            "mqttTopic": {"type": "string", "minLength": 1, "maxLength": 512},
                            "roleArn": role_arn()
                        }
                    },
                    "tags": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["key"],
                        "x-kubernetes-validations": [{
                            "rule": "self.all(t, !t.key.startsWith('iot.awscc.io/'))",
                            "message": "tag keys starting with iot.awscc.io/ are reserved"
                        }],
                        "items": {
                            "type": "object",
                            "required": ["key"],
                            "properties": {
                                "key": {"type": "string", "minLength": 1, "maxLength": 128},
                                "value": {"type": "string", "maxLength": 256}
                            }
                        }
                    },
                    "targetArns": {
                        "type": "array",
                        "x-kubernetes-list-type": "set",
                        "items": {"type": "string"}
                    },
                    "deletionPolicy": {"type": "string", "enum": ["Delete", "Retain"], "default": "Delete"},
                    "adoptionPolicy": {"type": "string", "enum": ["None", "Adopt"], "default": "None"},
                    "managementPolicy": {"type": "string", "enum": ["Manage", "Observe"], "default": "Manage"}
                }
            },
            "status": {
                "type": "object",
                "properties": {
                    "observedGeneration": {"type": "integer", "format": "int64"},
                    "securityProfileArn": {"type": "string"},
                    "version": {"type": "integer"},
                    "lastSyncTime": {"type": "string", "format": "date-time"},
                    "targetCount": {"type": "integer"},
                    "conditions": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["type"],
                        "items": {
                            "type": "object",
                            "required": ["type", "status"],
                            "properties": {
                                "type": {"type": "string"},
                                "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
                                "reason": {"type": "string"},
                                "message": {"type": "string"},
                                "lastTransitionTime": {"type": "string", "format": "date-time"}
                            }
                        }
                    }
                }
            }
        }
    })
}

/// A valid profile with one rule behavior, tags and targets.
pub fn security_profile() -> Value {
    json!({
        "apiVersion": "iot.awscc.io/v1alpha1",
        "kind": "SecurityProfile",
        "metadata": {"name": "sp1", "namespace": "default", "labels": {"a": "b"}},
        "spec": {
            "securityProfileName": "sp1",
            "region": "eu-west-1",
            "behaviors": [{
                "name": "msgs",
                "metric": "aws:num-messages-sent",
                "criteria": {
                    "comparisonOperator": "greater-than",
                    "value": {"count": 100},
                    "durationSeconds": 300,
                    "consecutiveDatapointsToAlarm": 1
                }
            }],
            "tags": [{"key": "team", "value": "iot"}],
            "targetArns": ["arn:aws:iot:eu-west-1:123456789012:all/registered-things"]
        }
    })
}
