//! Integration tests: the emulator over real loopback sockets, driven by `aws-sdk-iot` (the
//! client the operator uses), raw HTTP (admin API, unsigned requests) and botocore (wire check).

#[path = "emulator/common.rs"]
mod common;

#[path = "emulator/admin.rs"]
mod admin;
#[path = "emulator/concurrency.rs"]
mod concurrency;
#[path = "emulator/controls.rs"]
mod controls;
#[path = "emulator/dependencies.rs"]
mod dependencies;
#[path = "emulator/iam.rs"]
mod iam;
#[path = "emulator/normalize.rs"]
mod normalize;
#[path = "emulator/profiles.rs"]
mod profiles;
#[path = "emulator/sts.rs"]
mod sts;
#[path = "emulator/tags.rs"]
mod tags;
#[path = "emulator/targets.rs"]
mod targets;
#[path = "emulator/violations.rs"]
mod violations;
#[path = "emulator/wire_check.rs"]
mod wire_check;
