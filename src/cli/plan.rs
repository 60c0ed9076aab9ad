//! `plan`: what applying manifests would do in AWS, for review before they are applied. Reads
//! AWS (Describe, ListTargets, ListTags; DescribeCustomMetric, DescribeDimension) and asks the
//! controller's pure planners; never writes.
//!
//! Exit code: 0 when nothing would change, 2 when something would, 1 on an error or when a
//! manifest would be refused or is invalid (CI fails on what would not converge).

use super::aws_flags::read_options;
use super::manifests::{self, Document, Manifest, ReadError};
use super::review::{PlanDocument, Review, render_text};
use super::review_kinds::ReviewFields;
use crate::api::{CustomMetric, Dimension, SecurityProfile};
use crate::aws::{Iot, IotError, ResourceApi};
use crate::config::AwsArgs;
use crate::config::guard::GuardArgs;
use crate::controller::ManagedKind;
use crate::metrics::Metrics;
use crate::reconcile::guard::Guard;
use crate::reconcile::{
    Facts, RegionDefaults, desired, is_paused, plan, plan_resource, resolve, resource_region,
};
use aws_sdk_iot::config::Credentials;
use clap::{Args, ValueEnum};
use futures::{StreamExt, TryStreamExt};
use kube::ResourceExt;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Manifests reviewed at once.
const IN_FLIGHT: usize = 16;

/// Output format of `plan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Flags of `plan`.
#[derive(Args, Clone, Debug)]
pub struct PlanArgs {
    /// Manifest file or folder of `*.yaml`/`*.yml` (repeatable).
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE|DIR",
        required = true
    )]
    pub files: Vec<PathBuf>,

    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Text)]
    pub output: Format,

    /// The cluster id the operator runs with (`run --cluster-id`, the iot.awscc.io/cluster
    /// tag): it decides which profiles are this cluster's.
    #[arg(long, env = "CLUSTER_ID")]
    pub cluster_id: String,

    /// Namespace of manifests that name none (as `kubectl apply -n`).
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,

    /// AWS flags of `run`; operations without an `--aws-tps` rate are paced at AWS's
    /// documented quotas (DescribeSecurityProfile 25/s, the List operations 10/s).
    #[command(flatten)]
    pub aws: AwsArgs,

    /// The guardrail flags of `run` (`--allow-adoption`, `--allowed-*`). Namespace
    /// annotations cannot be read here (no cluster): give the namespace's lists as flags.
    #[command(flatten)]
    pub guard: GuardArgs,
}

/// Errors of `plan` (exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Aws(#[from] IotError),
    #[error("cannot render JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// The exit code for these reviews: 1 if one is blocked, else 2 if one writes, else 0.
pub fn exit_code(reviews: &[Review]) -> u8 {
    if reviews.iter().any(Review::blocked) {
        1
    } else if reviews.iter().any(Review::writes) {
        2
    } else {
        0
    }
}

/// The command: prints the plan on stdout and returns the exit code.
pub async fn run(args: &PlanArgs, credentials: Option<Credentials>) -> Result<u8, PlanError> {
    let documents = manifests::load(&args.files)?;
    let iot = Iot::load(
        read_options(&args.aws, args.aws.default_region.clone()),
        credentials,
        Arc::new(Metrics::default()),
    )
    .await;
    let reviews = review_all(&iot, args, documents).await?;
    print!("{}", render(args.output, &reviews)?);
    Ok(exit_code(&reviews))
}

/// The plan as text or as the JSON document.
pub fn render(format: Format, reviews: &[Review]) -> Result<String, serde_json::Error> {
    Ok(match format {
        Format::Text => render_text(reviews),
        Format::Json => {
            let doc = PlanDocument {
                version: 1,
                changes: reviews.iter().any(Review::writes),
                blocked: reviews.iter().any(Review::blocked),
                resources: reviews,
            };
            serde_json::to_string_pretty(&doc)? + "\n"
        }
    })
}

/// Reviews every document, in input order.
pub async fn review_all(
    iot: &Iot,
    args: &PlanArgs,
    documents: Vec<Document>,
) -> Result<Vec<Review>, IotError> {
    futures::stream::iter(documents)
        .map(|doc| review(iot, args, doc))
        .buffered(IN_FLIGHT)
        .try_collect()
        .await
}

/// What applying one document would do. AWS errors fail the command; a bad manifest is a
/// review (`invalid`), so the others are still shown.
async fn review(iot: &Iot, args: &PlanArgs, doc: Document) -> Result<Review, IotError> {
    match doc.resource {
        Ok(Manifest::Profile(sp)) => review_profile(iot, args, *sp, &doc.source).await,
        Ok(Manifest::CustomMetric(cm)) => {
            review_resource::<CustomMetric>(iot, args, *cm, &doc.source).await
        }
        Ok(Manifest::Dimension(d)) => {
            review_resource::<Dimension>(iot, args, *d, &doc.source).await
        }
        Err(message) => Ok(Review::new(&doc.source, "", "").invalid(message)),
    }
}

/// A CustomMetric or Dimension: the same steps as the controller (name, region, the guardrails'
/// region check before any AWS call, Describe + tags, the planner, the adoption check).
async fn review_resource<K: ManagedKind>(
    iot: &Iot,
    args: &PlanArgs,
    mut obj: K,
    source: &str,
) -> Result<Review, IotError>
where
    K::Attributes: ReviewFields,
{
    let namespace = obj.namespace().unwrap_or_else(|| args.namespace.clone());
    obj.meta_mut().namespace = Some(namespace.clone());
    let mut base = Review::new(source, &namespace, &obj.name_any()).of_kind(K::KIND);
    if obj.meta().name.as_deref().unwrap_or("").is_empty() {
        return Ok(base.invalid("metadata.name is required".into()));
    }
    if is_paused(&obj) {
        return Ok(base.paused());
    }
    let desired = match obj.desired(&args.cluster_id) {
        Ok(d) => d,
        Err(e) => return Ok(base.invalid(e.to_string())),
    };
    let sdk = iot.default_region();
    let defaults = RegionDefaults {
        namespace: None,
        operator: args.aws.default_region.as_deref(),
        sdk: sdk.as_deref(),
    };
    let region = match resource_region(obj.spec_region(), None, defaults) {
        Ok(r) => r,
        Err(e) => return Ok(base.invalid(e.to_string())),
    };
    base.aws_name = Some(desired.name.clone());
    base.region = Some(region.clone());
    let noun = <K::Attributes as ResourceApi>::NOUN;
    let guard = Guard::new(&args.guard.rules(), &namespace, &BTreeMap::new());
    if let Err(denial) = guard.check_region(&region) {
        return Ok(base.denied(&denial));
    }
    let observed = K::Attributes::observe(iot, &region, &desired.name).await?;
    let plan = plan_resource(&desired, observed.as_ref(), &[]);
    if let Err(denial) = guard.check_resource_plan(noun, &desired.name, &plan) {
        return Ok(base.denied(&denial));
    }
    Ok(base.with_resource_plan(noun, &plan, observed.as_ref()))
}

/// A SecurityProfile.
async fn review_profile(
    iot: &Iot,
    args: &PlanArgs,
    mut sp: SecurityProfile,
    source: &str,
) -> Result<Review, IotError> {
    let namespace = sp.namespace().unwrap_or_else(|| args.namespace.clone());
    sp.metadata.namespace = Some(namespace.clone());
    let base = Review::new(source, &namespace, &sp.name_any());
    if sp.metadata.name.as_deref().unwrap_or("").is_empty() {
        return Ok(base.invalid("metadata.name is required".into()));
    }
    if is_paused(&sp) {
        return Ok(base.paused());
    }
    // As the controller resolves a resource that holds no identity yet, except that the
    // namespace annotation cannot be read here (no cluster): `--default-region` stands for it.
    let sdk = iot.default_region();
    let defaults = RegionDefaults {
        namespace: None,
        operator: args.aws.default_region.as_deref(),
        sdk: sdk.as_deref(),
    };
    let resolution = match resolve(&sp, defaults) {
        Ok(r) => r,
        Err(e) => return Ok(base.invalid(e.to_string())),
    };
    let id = &resolution.identity;
    let mut base = base;
    base.security_profile_name = Some(id.name.clone());
    base.region = Some(id.region.clone());
    let desired = desired(&sp, &args.cluster_id, &id.name);
    // The same guardrails as the controller, before any AWS call and before any write.
    let guard = Guard::new(&args.guard.rules(), &namespace, &BTreeMap::new());
    if let Err(denial) = guard.check_spec(&desired, &id.region) {
        return Ok(base.denied(&denial));
    }
    let observed = iot.observe(&id.region, &id.name).await?;
    let facts = Facts {
        resolution: &resolution,
        observed: observed.as_ref(),
        was_ready: false,
    };
    let plan = plan(&desired, facts);
    if let Err(denial) = guard.check_plan(&desired, observed.as_ref(), &plan) {
        return Ok(base.denied(&denial));
    }
    Ok(base.with_plan(&plan, observed.as_ref()))
}
