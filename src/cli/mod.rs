//! The brownfield commands: `export` (AWS -> manifests) and `plan` (manifests -> what applying
//! them would do in AWS). Both only read AWS.

pub mod aws_flags;
pub mod export;
mod glob;
mod manifest;
mod manifest_kinds;
pub mod manifests;
pub mod names;
pub mod plan;
pub mod progress;
pub mod review;
pub mod review_kinds;
pub mod seed;
