//! securityprofile-operator: reconciles `SecurityProfile` custom resources with AWS IoT Device
//! Defender security profiles.

pub mod api;
pub mod aws;
pub mod config;
pub mod controller;
pub mod iam;
pub mod leader;
pub mod metrics;
pub mod operator;
pub mod reconcile;
pub mod sandbox;
pub mod server;
pub mod telemetry;

/// Chooses ring as rustls' process-wide crypto provider (kube and the AWS SDK both link rustls
/// with different providers, and rustls refuses to guess). Safe to call more than once.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
