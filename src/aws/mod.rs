//! AWS IoT: the facade the controller calls, spec <-> SDK conversion, error classes.

mod client;
pub mod convert;
mod error;

pub use client::{AwsOptions, Described, Iot, IotError};
pub use error::{AwsError, ErrorClass};
