//! securityprofile-operator: reconciles `SecurityProfile` custom resources with AWS IoT Device
//! Defender security profiles.

pub mod api;
pub mod reconcile;
