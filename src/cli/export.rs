//! `export`: every security profile, custom metric and dimension of an account and region as a
//! `SecurityProfile`, `CustomMetric` or `Dimension` manifest that adopts it without change
//! (`adoptionPolicy: Adopt`, `deletionPolicy: Retain`).
//!
//! Reads only: ListSecurityProfiles, ListCustomMetrics and ListDimensions (all pages), then
//! DescribeSecurityProfile, ListTargetsForSecurityProfile and ListTagsForResource per profile
//! and DescribeCustomMetric / DescribeDimension and ListTagsForResource per custom metric and
//! dimension, many in flight so that the pacer, not the round trips, sets the pace (the slowest
//! operation's calls / its quota).

use super::aws_flags::read_options;
use super::glob;
use super::manifest::{Identity, manifest};
use super::manifest_kinds::{custom_metric_manifest, dimension_manifest};
use super::names::kube_names;
use super::progress::Progress;
use crate::api::{CustomMetric, Dimension, SecurityProfile};
use crate::aws::{Iot, IotError, ResourceApi};
use crate::config::AwsArgs;
use crate::metrics::Metrics;
use crate::reconcile::model::{CLUSTER_TAG, NAME_TAG, NAMESPACE_TAG};
use crate::reconcile::{CustomMetricAttributes, DimensionAttributes, Observed};
use aws_sdk_iot::config::Credentials;
use clap::Args;
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Resources read at once: enough to keep every operation's pacer busy.
const IN_FLIGHT: usize = 64;

/// Flags of `export`.
#[derive(Args, Clone, Debug)]
pub struct ExportArgs {
    /// AWS region to export (default: --default-region, then the AWS SDK chain).
    #[arg(long)]
    pub region: Option<String>,

    /// Namespace written into the manifests (default: none, so `kubectl apply -n` decides).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,

    /// Write one file per resource into this folder instead of stdout: NAME.yaml per profile,
    /// NAME.custommetric.yaml per custom metric, NAME.dimension.yaml per dimension.
    #[arg(short = 'o', long = "output-dir", value_name = "DIR")]
    pub output_dir: Option<PathBuf>,

    /// Export only the profiles, custom metrics and dimensions whose AWS name matches this glob
    /// (`*` and `?`).
    #[arg(long, value_name = "GLOB")]
    pub name_filter: Option<String>,

    /// This cluster's id (the value of the iot.awscc.io/cluster tag): resources it already
    /// manages are skipped with a note, like those of other clusters.
    #[arg(long, env = "CLUSTER_ID")]
    pub cluster_id: Option<String>,

    /// AWS flags of `run`; operations without an `--aws-tps` rate are paced at AWS's
    /// documented quotas (DescribeSecurityProfile 25/s, the List operations 10/s).
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Errors of `export`.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Aws(#[from] IotError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "no AWS region: pass --region (or --default-region, or configure the AWS SDK's region)"
    )]
    NoRegion,
    #[error("cannot render YAML: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
}

/// A resource left out, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// "security profile", "custom metric" or "dimension".
    pub noun: &'static str,
    pub aws_name: String,
    pub why: String,
}

/// What an export found.
#[derive(Debug, Default)]
pub struct Export {
    /// The region read.
    pub region: String,
    /// One manifest per exported profile, by AWS name.
    pub manifests: Vec<SecurityProfile>,
    /// One manifest per exported custom metric, by AWS name.
    pub custom_metrics: Vec<CustomMetric>,
    /// One manifest per exported dimension, by AWS name.
    pub dimensions: Vec<Dimension>,
    pub skipped: Vec<Skipped>,
}

/// The command: reads AWS, writes the manifests (stdout or `-o`), notes skipped profiles on
/// stderr. `credentials` overrides the SDK's default chain (tests against the emulator).
pub async fn run(
    args: &ExportArgs,
    credentials: Option<Credentials>,
) -> Result<Export, ExportError> {
    let region = args.region.clone().or(args.aws.default_region.clone());
    let iot = Iot::load(
        read_options(&args.aws, region),
        credentials,
        Arc::new(Metrics::default()),
    )
    .await;
    let export = export(&iot, args, &Progress::on_terminal()).await?;
    for s in &export.skipped {
        eprintln!("skipped {} {}: {}", s.noun, s.aws_name, s.why);
    }
    match &args.output_dir {
        Some(dir) => write_files(dir, &export)?,
        None => print!("{}", to_yaml(&export)?),
    }
    eprintln!(
        "exported {} profile(s), {} custom metric(s) and {} dimension(s) from {}, skipped {}",
        export.manifests.len(),
        export.custom_metrics.len(),
        export.dimensions.len(),
        export.region,
        export.skipped.len()
    );
    Ok(export)
}

/// Reads every profile, custom metric and dimension of the region that passes the filter and
/// is not owned by a cluster.
pub async fn export(
    iot: &Iot,
    args: &ExportArgs,
    progress: &Progress,
) -> Result<Export, ExportError> {
    let region = args
        .region
        .clone()
        .or_else(|| iot.default_region())
        .ok_or(ExportError::NoRegion)?;
    let region = region.as_str();
    // One after the other: a List AWS refuses is always reported the same way, profiles first.
    let profiles = iot.list_profiles(region).await?;
    let metrics = iot.custom_metric_names(region).await?;
    let dimensions = iot.dimension_names(region).await?;
    let wanted = |names: Vec<String>| -> Vec<String> {
        names
            .into_iter()
            .filter(|n| {
                args.name_filter
                    .as_deref()
                    .is_none_or(|g| glob::matches(g, n))
            })
            .collect()
    };
    let (profiles, metrics, dimensions) = (
        wanted(profiles),
        wanted(metrics.into_iter().collect()),
        wanted(dimensions.into_iter().collect()),
    );
    progress.start(profiles.len() + metrics.len() + dimensions.len());
    // The three kinds at once: their Describes have quotas of their own.
    let (profiles, metrics, dimensions) = futures::try_join!(
        read_all(profiles, progress, |name| read_profile(iot, region, name)),
        read_all(metrics, progress, |name| {
            observe::<CustomMetricAttributes>(iot, region, name)
        }),
        read_all(dimensions, progress, |name| {
            observe::<DimensionAttributes>(iot, region, name)
        })
    )?;
    progress.finish();
    let mut export = Export {
        region: region.to_string(),
        ..Export::default()
    };
    let cluster = args.cluster_id.as_deref();
    let ns = args.namespace.as_deref();
    let kept = keep(
        "security profile",
        profiles,
        |o| &o.tags,
        cluster,
        &mut export,
    );
    export.manifests = named(&kept, |id, o| manifest(&place(id, ns, region), o));
    let kept = keep("custom metric", metrics, |o| &o.tags, cluster, &mut export);
    export.custom_metrics = named(&kept, |id, o| {
        custom_metric_manifest(&place(id, ns, region), o)
    });
    let kept = keep("dimension", dimensions, |o| &o.tags, cluster, &mut export);
    export.dimensions = named(&kept, |id, o| dimension_manifest(&place(id, ns, region), o));
    Ok(export)
}

/// Where a manifest goes: its (AWS name, Kubernetes name), namespace and region.
fn place<'a>(
    (aws_name, kube_name): &'a (String, String),
    namespace: Option<&'a str>,
    region: &'a str,
) -> Identity<'a> {
    Identity {
        aws_name,
        kube_name,
        namespace,
        region,
    }
}

/// Reads each name (many in flight), in name order; `None` for one deleted meanwhile.
async fn read_all<T, F, Fut>(
    names: Vec<String>,
    progress: &Progress,
    read: F,
) -> Result<Vec<(String, Option<T>)>, IotError>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<Option<T>, IotError>>,
{
    let read = &read;
    let mut out: Vec<(String, Option<T>)> = futures::stream::iter(names)
        .map(|name| async move {
            let observed = read(name.clone()).await;
            progress.inc();
            observed.map(|o| (name, o))
        })
        .buffer_unordered(IN_FLIGHT)
        .try_collect()
        .await?;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The resources to export: those read and not owned by a cluster; the others are noted in
/// `export.skipped`.
fn keep<T>(
    noun: &'static str,
    read: Vec<(String, Option<T>)>,
    tags: impl Fn(&T) -> &BTreeMap<String, String>,
    cluster_id: Option<&str>,
    export: &mut Export,
) -> Vec<(String, T)> {
    let mut kept = Vec::new();
    for (aws_name, observed) in read {
        let why = match &observed {
            None => Some("deleted while exporting".to_string()),
            Some(o) => owned_by(tags(o), cluster_id),
        };
        match (why, observed) {
            (None, Some(o)) => kept.push((aws_name, o)),
            (why, _) => export.skipped.push(Skipped {
                noun,
                aws_name,
                why: why.unwrap_or_default(),
            }),
        }
    }
    kept
}

/// One manifest per kept resource, with Kubernetes names unique among those of its kind.
fn named<T, M>(kept: &[(String, T)], manifest: impl Fn(&(String, String), &T) -> M) -> Vec<M> {
    let kube = kube_names(kept.iter().map(|(n, _)| n.as_str()));
    kept.iter()
        .map(|(aws, observed)| {
            let kube_name = kube.get(aws).cloned().unwrap_or_else(|| aws.clone());
            manifest(&(aws.clone(), kube_name), observed)
        })
        .collect()
}

/// Describe and tags of a custom metric or dimension; `None` when it vanished meanwhile.
async fn observe<A: ResourceApi>(
    iot: &Iot,
    region: &str,
    name: String,
) -> Result<Option<crate::reconcile::ResourceObserved<A>>, IotError> {
    A::observe(iot, region, &name).await
}

/// Describe, then targets and tags at once; `None` when the profile vanished meanwhile.
async fn read_profile(iot: &Iot, region: &str, name: String) -> Result<Option<Observed>, IotError> {
    let Some(d) = iot.describe(region, &name).await? else {
        return Ok(None);
    };
    let (targets, tags) = futures::try_join!(
        iot.list_targets(region, &name),
        iot.list_tags(region, &d.arn)
    )?;
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

/// Why a resource that carries ownership tags is not exported: another cluster manages it, or
/// this one already does.
fn owned_by(tags: &BTreeMap<String, String>, cluster_id: Option<&str>) -> Option<String> {
    let tag = |k: &str| tags.get(k).map(String::as_str);
    let (cluster, namespace, name) = (tag(CLUSTER_TAG), tag(NAMESPACE_TAG), tag(NAME_TAG));
    if cluster.is_none() && namespace.is_none() && name.is_none() {
        return None;
    }
    let resource = match (namespace, name) {
        (Some(ns), Some(n)) => format!(" as {ns}/{n}"),
        _ => String::new(),
    };
    Some(match (cluster, cluster_id) {
        (Some(c), Some(ours)) if c == ours => {
            format!("already managed by this cluster{resource}")
        }
        (Some(c), _) => format!("owned by cluster {c}{resource}"),
        (None, _) => format!("carries ownership tags of another resource{resource}"),
    })
}

/// The manifests as one YAML stream, `---` between documents: custom metrics and dimensions
/// first, so that `kubectl apply` creates what profiles name before the profiles.
pub fn to_yaml(export: &Export) -> Result<String, serde_yaml_ng::Error> {
    let mut docs = Vec::new();
    yaml_docs(&export.custom_metrics, &mut docs)?;
    yaml_docs(&export.dimensions, &mut docs)?;
    yaml_docs(&export.manifests, &mut docs)?;
    Ok(docs.join("---\n"))
}

fn yaml_docs<T: Serialize>(
    manifests: &[T],
    docs: &mut Vec<String>,
) -> Result<(), serde_yaml_ng::Error> {
    for m in manifests {
        docs.push(serde_yaml_ng::to_string(m)?);
    }
    Ok(())
}

/// One file per manifest in `dir` (created if missing): `NAME.yaml` for a profile,
/// `NAME.custommetric.yaml` and `NAME.dimension.yaml` for the other kinds (names made from AWS
/// names hold no dot, so the kinds never overwrite each other's files).
pub fn write_files(dir: &Path, export: &Export) -> Result<(), ExportError> {
    std::fs::create_dir_all(dir).map_err(write_error(dir))?;
    let name = |m: &kube::api::ObjectMeta| m.name.clone().unwrap_or_default();
    for sp in &export.manifests {
        write_file(&dir.join(format!("{}.yaml", name(&sp.metadata))), sp)?;
    }
    for cm in &export.custom_metrics {
        write_file(
            &dir.join(format!("{}.custommetric.yaml", name(&cm.metadata))),
            cm,
        )?;
    }
    for d in &export.dimensions {
        write_file(
            &dir.join(format!("{}.dimension.yaml", name(&d.metadata))),
            d,
        )?;
    }
    Ok(())
}

fn write_error(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError {
    let path = path.display().to_string();
    move |source| ExportError::Write { path, source }
}

fn write_file<T: Serialize>(path: &Path, manifest: &T) -> Result<(), ExportError> {
    let text = serde_yaml_ng::to_string(manifest)?;
    std::fs::write(path, text).map_err(write_error(path))
}
