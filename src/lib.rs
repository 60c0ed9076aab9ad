//! securityprofile-operator: reconciles `SecurityProfile` custom resources with AWS IoT Device
//! Defender security profiles.

pub mod api;
pub mod aws;
pub mod cli;
pub mod config;
pub mod controller;
pub mod iam;
pub mod leader;
pub mod metrics;
pub mod operator;
pub mod reconcile;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod server;
pub mod telemetry;

/// Chooses ring as rustls' process-wide crypto provider. kube and the AWS SDK share rustls 0.23
/// with ring, but a build that also links aws-lc (a dev-dependency enabling it, for one) would
/// leave rustls two providers, and rustls refuses to guess between them. Installing ring
/// explicitly keeps the choice the same in every build. Safe to call more than once.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
