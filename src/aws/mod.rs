//! AWS IoT: the facade the controller calls, spec <-> SDK conversion, error classes.

mod accounts;
mod client;
pub mod convert;
mod dependencies;
mod error;
mod fence;
mod pacer;

pub use accounts::Role;
pub use client::{AwsOptions, Described, Iot, IotError};
pub use dependencies::ResourceApi;
pub use error::{AwsError, ErrorClass};
pub use fence::Fence;
pub use pacer::{
    DOCUMENTED_QUOTAS, Lane, LaneCell, OWN_ACCOUNT, Pacer, current_lane, in_lane, in_shared_lane,
    parse_rate,
};
