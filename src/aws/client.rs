//! The IoT facade: the operations the operator uses, over aws-sdk-iot, with one SDK client per
//! region, SDK retries with backoff, and every call counted in the metrics.

use super::convert::{self, ConvertError};
use super::error::{AwsError, ErrorClass};
use super::fence::Fence;
use super::pacer::Pacer;
use crate::metrics::Metrics;
use crate::reconcile::violations::{ActiveViolation, ViolationsQuery};
use crate::reconcile::{AttributeUpdate, Attributes, Field, Observed};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_iot::Client;
use aws_sdk_iot::config::Credentials;
use aws_sdk_iot::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::date_time::Format;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How to reach AWS.
#[derive(Clone, Debug)]
pub struct AwsOptions {
    /// Endpoint override (the emulator); `None` for AWS.
    pub endpoint_url: Option<String>,
    /// Attempts per call, including the first (SDK standard retry mode, exponential backoff with jitter).
    pub max_attempts: u32,
    /// Timeout of one attempt.
    pub attempt_timeout: Duration,
    /// The operator's default region; when set, the SDK's region chain (IMDS…) is not consulted.
    pub region: Option<String>,
    /// Client-side rate limits, calls per second by operation (`*` for all).
    pub tps: Vec<(String, f64)>,
}

impl Default for AwsOptions {
    fn default() -> Self {
        AwsOptions {
            endpoint_url: None,
            max_attempts: 3,
            attempt_timeout: Duration::from_secs(10),
            region: None,
            tps: Vec::new(),
        }
    }
}

/// Errors of the facade.
#[derive(Debug, thiserror::Error)]
pub enum IotError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("cannot convert between spec and AWS types: {0}")]
    Convert(#[from] ConvertError),
    #[error("not writing {0}: this process no longer holds the leader Lease")]
    Fenced(&'static str),
    /// The namespace's role cannot be assumed (trust policy, external id, STS permissions).
    #[error(
        "cannot assume the namespace's role {role} (annotation iot.awscc.io/role-arn): {message}"
    )]
    AssumeRole { role: String, message: String },
    /// The namespace's role is not among the roles the operator's admin allows.
    #[error(
        "the namespace's role {0} (annotation iot.awscc.io/role-arn) is not allowed by the operator's role allowlist"
    )]
    RoleNotAllowed(String),
}

impl IotError {
    pub fn class(&self) -> ErrorClass {
        match self {
            IotError::Aws(e) => e.class,
            IotError::Convert(_) => ErrorClass::Invalid,
            IotError::Fenced(_) => ErrorClass::Transient,
            IotError::AssumeRole { .. } | IotError::RoleNotAllowed(_) => ErrorClass::AccessDenied,
        }
    }
}

/// A profile as `DescribeSecurityProfile` (or `UpdateSecurityProfile`) returns it.
#[derive(Clone, Debug)]
pub struct Described {
    pub arn: String,
    pub version: i64,
    pub attributes: Attributes,
    pub creation_date: Option<String>,
    pub last_modified_date: Option<String>,
}

/// A [`Described`] from a Describe or Update response: both carry the same members.
macro_rules! described {
    ($out:expr) => {{
        let out = $out;
        // The deprecated names-only list, read so that it compares as its V2 equivalent.
        #[allow(deprecated)]
        let metrics_v1 = out.additional_metrics_to_retain;
        Described {
            arn: out.security_profile_arn.unwrap_or_default(),
            version: out.version,
            attributes: attributes_from(
                out.security_profile_description,
                out.behaviors.as_deref(),
                out.alert_targets.as_ref(),
                out.additional_metrics_to_retain_v2.as_deref(),
                metrics_v1.as_deref(),
                out.metrics_export_config.as_ref(),
            )?,
            creation_date: out.creation_date.and_then(|d| d.fmt(Format::DateTime).ok()),
            last_modified_date: out
                .last_modified_date
                .and_then(|d| d.fmt(Format::DateTime).ok()),
        }
    }};
}

/// AWS IoT, as the operator uses it.
pub struct Iot {
    pub(super) base: SdkConfig,
    pub(super) options: AwsOptions,
    clients: Mutex<HashMap<String, Client>>,
    pacer: Pacer,
    pub(super) fence: Fence,
    pub(super) metrics: Arc<Metrics>,
    /// The facades of the roles assumed so far (see `accounts`).
    pub(super) assumed: tokio::sync::Mutex<HashMap<super::accounts::Role, Arc<Iot>>>,
}

/// Whether a call changes AWS (and so must pass the leader fence).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Access {
    Read,
    Write,
}

impl Iot {
    /// Loads the SDK configuration from the default chain (environment, IRSA web identity, EKS Pod
    /// Identity / container credentials, profiles, IMDS), or with the given static credentials
    /// (the sandbox and tests, against the emulator).
    pub async fn load(
        options: AwsOptions,
        credentials: Option<Credentials>,
        metrics: Arc<Metrics>,
    ) -> Iot {
        // The hyper 1 / rustls 0.23 client with ring, the TLS stack kube uses (the SDK's default
        // client would bring a second one).
        let https = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(https)
            .retry_config(RetryConfig::standard().with_max_attempts(options.max_attempts.max(1)))
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(options.attempt_timeout)
                    .build(),
            );
        if let Some(url) = &options.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(credentials) = credentials {
            loader = loader.credentials_provider(credentials);
        }
        Iot::new(loader.load().await, options, metrics)
    }

    pub fn new(base: SdkConfig, options: AwsOptions, metrics: Arc<Metrics>) -> Iot {
        Iot {
            base,
            pacer: Pacer::new(&options.tps),
            options,
            clients: Mutex::new(HashMap::new()),
            fence: Fence::unfenced(),
            metrics,
            assumed: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The calls per second the operator allows itself for `operation` (`--aws-tps`).
    pub fn quota(&self, operation: &str) -> Option<f64> {
        self.pacer.rate(operation)
    }

    /// Fences every AWS write with `fence` (leader election).
    pub fn with_fence(mut self, fence: Fence) -> Iot {
        self.fence = fence;
        self
    }

    /// The region of the SDK's default chain, if it has one.
    pub fn default_region(&self) -> Option<String> {
        self.base.region().map(|r| r.to_string())
    }

    pub(super) fn client(&self, region: &str) -> Client {
        let mut clients = match self.clients.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        clients
            .entry(region.to_string())
            .or_insert_with(|| {
                let mut config = aws_sdk_iot::config::Builder::from(&self.base)
                    .region(Region::new(region.to_string()));
                if let Some(url) = &self.options.endpoint_url {
                    config = config.endpoint_url(url);
                }
                Client::from_conf(config.build())
            })
            .clone()
    }

    /// The one path of every AWS call: waits for its slot at the pacer, checks the leader
    /// fence right before a write is sent (after the wait, which can be long), sends it, counts
    /// the outcome and turns an SDK error into an [`AwsError`].
    pub(super) async fn call<T, E>(
        &self,
        region: &str,
        operation: &'static str,
        access: Access,
        send: impl std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    ) -> Result<T, IotError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        self.pacer.wait(region, operation).await;
        if access == Access::Write && !self.fence.is_open() {
            self.metrics.aws_call(operation, "Fenced");
            return Err(IotError::Fenced(operation));
        }
        match send.await {
            Ok(v) => {
                self.metrics.aws_call(operation, "ok");
                Ok(v)
            }
            Err(e) => {
                let e = AwsError::from_sdk(operation, e);
                self.metrics.aws_call(operation, &e.code);
                Err(e.into())
            }
        }
    }

    /// `DescribeSecurityProfile`; `None` when there is no such profile.
    pub async fn describe(&self, region: &str, name: &str) -> Result<Option<Described>, IotError> {
        let send = self
            .client(region)
            .describe_security_profile()
            .security_profile_name(name)
            .send();
        let out = match self
            .call(region, "DescribeSecurityProfile", Access::Read, send)
            .await
        {
            Ok(out) => out,
            Err(e) if e.class() == ErrorClass::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(Some(described!(out)))
    }

    /// `ListSecurityProfiles`, all pages (250 names a page, the API's maximum): every profile
    /// name of the region, in the order AWS lists them.
    pub async fn list_profiles(&self, region: &str) -> Result<Vec<String>, IotError> {
        let client = self.client(region);
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let send = client
                .list_security_profiles()
                .max_results(250)
                .set_next_token(token)
                .send();
            let out = self
                .call(region, "ListSecurityProfiles", Access::Read, send)
                .await?;
            names.extend(
                out.security_profile_identifiers
                    .unwrap_or_default()
                    .into_iter()
                    .map(|p| p.name),
            );
            token = out.next_token;
            if token.is_none() {
                return Ok(names);
            }
        }
    }

    /// `ListTargetsForSecurityProfile`, all pages.
    pub async fn list_targets(
        &self,
        region: &str,
        name: &str,
    ) -> Result<BTreeSet<String>, IotError> {
        let client = self.client(region);
        let mut targets = BTreeSet::new();
        let mut token = None;
        loop {
            let send = client
                .list_targets_for_security_profile()
                .security_profile_name(name)
                .set_next_token(token)
                .send();
            let out = self
                .call(region, "ListTargetsForSecurityProfile", Access::Read, send)
                .await?;
            targets.extend(
                out.security_profile_targets
                    .unwrap_or_default()
                    .into_iter()
                    .map(|t| t.arn),
            );
            token = out.next_token;
            if token.is_none() {
                return Ok(targets);
            }
        }
    }

    /// `ListTagsForResource`, all pages.
    pub async fn list_tags(
        &self,
        region: &str,
        arn: &str,
    ) -> Result<BTreeMap<String, String>, IotError> {
        let client = self.client(region);
        let mut tags = BTreeMap::new();
        let mut token = None;
        loop {
            let send = client
                .list_tags_for_resource()
                .resource_arn(arn)
                .set_next_token(token)
                .send();
            let out = self
                .call(region, "ListTagsForResource", Access::Read, send)
                .await?;
            tags.extend(
                out.tags
                    .unwrap_or_default()
                    .into_iter()
                    .map(|t| (t.key, t.value.unwrap_or_default())),
            );
            token = out.next_token;
            if token.is_none() {
                return Ok(tags);
            }
        }
    }

    /// `ListActiveViolations` of one profile, all pages (250 a page, the API's maximum).
    pub async fn list_active_violations(
        &self,
        region: &str,
        name: &str,
        query: ViolationsQuery,
    ) -> Result<Vec<ActiveViolation>, IotError> {
        let client = self.client(region);
        let mut violations = Vec::new();
        let mut token = None;
        loop {
            let send = client
                .list_active_violations()
                .security_profile_name(name)
                .list_suppressed_alerts(query.list_suppressed_alerts)
                .max_results(250)
                .set_next_token(token)
                .send();
            let out = self
                .call(region, "ListActiveViolations", Access::Read, send)
                .await?;
            violations.extend(
                out.active_violations
                    .unwrap_or_default()
                    .into_iter()
                    .map(|v| ActiveViolation {
                        thing_name: v.thing_name.unwrap_or_default(),
                        behavior_name: v.behavior.map(|b| b.name).unwrap_or_default(),
                        verification_state: v.verification_state.map(|s| s.as_str().to_string()),
                        last_violation_time: v.last_violation_time.map(|t| t.secs()),
                        violation_start_time: v.violation_start_time.map(|t| t.secs()),
                    }),
            );
            token = out.next_token;
            if token.is_none() {
                return Ok(violations);
            }
        }
    }

    /// Reads everything the planner compares: attributes, version, targets and tags.
    pub async fn observe(&self, region: &str, name: &str) -> Result<Option<Observed>, IotError> {
        let Some(d) = self.describe(region, name).await? else {
            return Ok(None);
        };
        let targets = self.list_targets(region, name).await?;
        let tags = self.list_tags(region, &d.arn).await?;
        Ok(Some(Observed {
            arn: d.arn,
            version: d.version,
            attributes: d.attributes,
            targets,
            tags,
            creation_date: d.creation_date,
            last_modified_date: d.last_modified_date,
        }))
    }

    /// Reads what deletion needs: version and tags (not targets).
    pub async fn observe_ownership(
        &self,
        region: &str,
        name: &str,
    ) -> Result<Option<Observed>, IotError> {
        let Some(d) = self.describe(region, name).await? else {
            return Ok(None);
        };
        let tags = self.list_tags(region, &d.arn).await?;
        Ok(Some(Observed {
            arn: d.arn,
            version: d.version,
            attributes: d.attributes,
            targets: BTreeSet::new(),
            tags,
            creation_date: d.creation_date,
            last_modified_date: d.last_modified_date,
        }))
    }

    /// `CreateSecurityProfile` with tags; returns the ARN.
    pub async fn create(
        &self,
        region: &str,
        name: &str,
        attributes: &Attributes,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, IotError> {
        let behaviors = attributes
            .behaviors
            .iter()
            .map(convert::behavior_to_sdk)
            .collect::<Result<Vec<_>, _>>()?;
        let metrics = attributes
            .additional_metrics
            .iter()
            .map(convert::metric_to_sdk)
            .collect::<Result<Vec<_>, _>>()?;
        let send = self
            .client(region)
            .create_security_profile()
            .security_profile_name(name)
            .set_security_profile_description(attributes.description.clone())
            .set_behaviors((!behaviors.is_empty()).then_some(behaviors))
            .set_alert_targets(
                attributes
                    .alert_targets
                    .as_ref()
                    .map(convert::alert_targets_to_sdk)
                    .transpose()?,
            )
            .set_additional_metrics_to_retain_v2((!metrics.is_empty()).then_some(metrics))
            .set_metrics_export_config(
                attributes
                    .metrics_export
                    .as_ref()
                    .map(convert::export_to_sdk)
                    .transpose()?,
            )
            .set_tags(Some(convert::tags_to_sdk(tags)?))
            .send();
        let out = self
            .call(region, "CreateSecurityProfile", Access::Write, send)
            .await?;
        Ok(out.security_profile_arn.unwrap_or_default())
    }

    /// `UpdateSecurityProfile` with `expectedVersion`; clears fields with the `delete…` flags.
    pub async fn update(
        &self,
        region: &str,
        name: &str,
        expected_version: i64,
        update: &AttributeUpdate,
    ) -> Result<Described, IotError> {
        let mut req = self
            .client(region)
            .update_security_profile()
            .security_profile_name(name)
            .expected_version(expected_version)
            .set_security_profile_description(update.description.clone());
        req = match &update.behaviors {
            None => req,
            Some(Field::Set(b)) => req.set_behaviors(Some(
                b.iter()
                    .map(convert::behavior_to_sdk)
                    .collect::<Result<Vec<_>, _>>()?,
            )),
            Some(Field::Clear) => req.delete_behaviors(true),
        };
        req = match &update.alert_targets {
            None => req,
            Some(Field::Set(a)) => req.set_alert_targets(Some(convert::alert_targets_to_sdk(a)?)),
            Some(Field::Clear) => req.delete_alert_targets(true),
        };
        req = match &update.additional_metrics {
            None => req,
            Some(Field::Set(m)) => req.set_additional_metrics_to_retain_v2(Some(
                m.iter()
                    .map(convert::metric_to_sdk)
                    .collect::<Result<Vec<_>, _>>()?,
            )),
            Some(Field::Clear) => req.delete_additional_metrics_to_retain(true),
        };
        req = match &update.metrics_export {
            None => req,
            Some(Field::Set(m)) => req.metrics_export_config(convert::export_to_sdk(m)?),
            Some(Field::Clear) => req.delete_metrics_export_config(true),
        };
        let out = self
            .call(region, "UpdateSecurityProfile", Access::Write, req.send())
            .await?;
        Ok(described!(out))
    }

    /// `DeleteSecurityProfile` with `expectedVersion`; a profile already gone counts as deleted.
    pub async fn delete(
        &self,
        region: &str,
        name: &str,
        expected_version: i64,
    ) -> Result<(), IotError> {
        let send = self
            .client(region)
            .delete_security_profile()
            .security_profile_name(name)
            .expected_version(expected_version)
            .send();
        match self
            .call(region, "DeleteSecurityProfile", Access::Write, send)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.class() == ErrorClass::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `AttachSecurityProfile`.
    pub async fn attach(&self, region: &str, name: &str, target: &str) -> Result<(), IotError> {
        let send = self
            .client(region)
            .attach_security_profile()
            .security_profile_name(name)
            .security_profile_target_arn(target)
            .send();
        self.call(region, "AttachSecurityProfile", Access::Write, send)
            .await?;
        Ok(())
    }

    /// `DetachSecurityProfile`; a target already detached counts as detached.
    pub async fn detach(&self, region: &str, name: &str, target: &str) -> Result<(), IotError> {
        let send = self
            .client(region)
            .detach_security_profile()
            .security_profile_name(name)
            .security_profile_target_arn(target)
            .send();
        match self
            .call(region, "DetachSecurityProfile", Access::Write, send)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.class() == ErrorClass::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `TagResource`.
    pub async fn tag(
        &self,
        region: &str,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), IotError> {
        let send = self
            .client(region)
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(convert::tags_to_sdk(tags)?))
            .send();
        self.call(region, "TagResource", Access::Write, send)
            .await?;
        Ok(())
    }

    /// `UntagResource`.
    pub async fn untag(
        &self,
        region: &str,
        arn: &str,
        keys: &BTreeSet<String>,
    ) -> Result<(), IotError> {
        let send = self
            .client(region)
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(keys.iter().cloned().collect()))
            .send();
        self.call(region, "UntagResource", Access::Write, send)
            .await?;
        Ok(())
    }
}

fn attributes_from(
    description: Option<String>,
    behaviors: Option<&[aws_sdk_iot::types::Behavior]>,
    alert_targets: Option<
        &HashMap<aws_sdk_iot::types::AlertTargetType, aws_sdk_iot::types::AlertTarget>,
    >,
    metrics: Option<&[aws_sdk_iot::types::MetricToRetain]>,
    metrics_v1: Option<&[String]>,
    export: Option<&aws_sdk_iot::types::MetricsExportConfig>,
) -> Result<Attributes, ConvertError> {
    let mut additional_metrics: Vec<crate::api::MetricToRetain> = metrics
        .unwrap_or_default()
        .iter()
        .map(convert::metric_from_sdk)
        .collect::<Result<_, _>>()?;
    // A profile written with the deprecated `additionalMetricsToRetain` (names only) reads as
    // its V2 equivalent, so that it is no drift against a spec that lists the same metrics.
    for name in metrics_v1.unwrap_or_default() {
        if !additional_metrics.iter().any(|m| &m.metric == name) {
            additional_metrics.push(crate::api::MetricToRetain {
                metric: name.clone(),
                ..Default::default()
            });
        }
    }
    Ok(Attributes {
        description,
        behaviors: behaviors
            .unwrap_or_default()
            .iter()
            .map(convert::behavior_from_sdk)
            .collect::<Result<_, _>>()?,
        alert_targets: alert_targets.and_then(convert::alert_targets_from_sdk),
        additional_metrics,
        metrics_export: export.map(convert::export_from_sdk),
    }
    .normalized())
}
