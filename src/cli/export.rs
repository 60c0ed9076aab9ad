//! `export`: every security profile of an account and region as a `SecurityProfile` manifest
//! that adopts it without change (`adoptionPolicy: Adopt`, `deletionPolicy: Retain`).
//!
//! Reads only: ListSecurityProfiles, then DescribeSecurityProfile, ListTargetsForSecurityProfile
//! and ListTagsForResource per profile, many profiles in flight so that the pacer, not the
//! round trips, sets the pace (the slowest operation's calls / its quota).

use super::aws_flags::read_options;
use super::glob;
use super::manifest::{Identity, manifest};
use super::names::kube_names;
use super::progress::Progress;
use crate::api::SecurityProfile;
use crate::aws::{Iot, IotError};
use crate::config::AwsArgs;
use crate::metrics::Metrics;
use crate::reconcile::Observed;
use crate::reconcile::model::{CLUSTER_TAG, NAME_TAG, NAMESPACE_TAG};
use aws_sdk_iot::config::Credentials;
use clap::Args;
use futures::{StreamExt, TryStreamExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Profiles read at once: enough to keep every operation's pacer busy.
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

    /// Write one file per profile (NAME.yaml) into this folder instead of stdout.
    #[arg(short = 'o', long = "output-dir", value_name = "DIR")]
    pub output_dir: Option<PathBuf>,

    /// Export only the profiles whose AWS name matches this glob (`*` and `?`).
    #[arg(long, value_name = "GLOB")]
    pub name_filter: Option<String>,

    /// This cluster's id (the value of the iot.awscc.io/cluster tag): profiles it already
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

/// A profile left out, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
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
        eprintln!("skipped {}: {}", s.aws_name, s.why);
    }
    match &args.output_dir {
        Some(dir) => write_files(dir, &export.manifests)?,
        None => print!("{}", to_yaml(&export.manifests)?),
    }
    eprintln!(
        "exported {} profile(s) from {}, skipped {}",
        export.manifests.len(),
        export.region,
        export.skipped.len()
    );
    Ok(export)
}

/// Reads every profile of the region that passes the filter and is not owned by a cluster.
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
    let names: Vec<String> = iot
        .list_profiles(region)
        .await?
        .into_iter()
        .filter(|n| {
            args.name_filter
                .as_deref()
                .is_none_or(|g| glob::matches(g, n))
        })
        .collect();
    progress.start(names.len());
    let mut read: Vec<(String, Option<Observed>)> = futures::stream::iter(names)
        .map(|name| async move {
            let observed = read_profile(iot, region, &name).await;
            progress.inc();
            observed.map(|o| (name, o))
        })
        .buffer_unordered(IN_FLIGHT)
        .try_collect()
        .await?;
    progress.finish();
    read.sort_by(|a, b| a.0.cmp(&b.0));
    let mut export = Export {
        region: region.to_string(),
        ..Export::default()
    };
    let mut kept = Vec::new();
    for (name, observed) in read {
        let Some(observed) = observed else {
            export.skipped.push(Skipped {
                aws_name: name,
                why: "deleted while exporting".into(),
            });
            continue;
        };
        match owned_by(&observed, args.cluster_id.as_deref()) {
            Some(why) => export.skipped.push(Skipped {
                aws_name: name,
                why,
            }),
            None => kept.push((name, observed)),
        }
    }
    let kube = kube_names(kept.iter().map(|(n, _)| n.as_str()));
    for (name, observed) in &kept {
        let id = Identity {
            aws_name: name,
            kube_name: kube.get(name).map_or(name.as_str(), String::as_str),
            namespace: args.namespace.as_deref(),
            region,
        };
        export.manifests.push(manifest(&id, observed));
    }
    Ok(export)
}

/// Describe, then targets and tags at once; `None` when the profile vanished meanwhile.
async fn read_profile(iot: &Iot, region: &str, name: &str) -> Result<Option<Observed>, IotError> {
    let Some(d) = iot.describe(region, name).await? else {
        return Ok(None);
    };
    let (targets, tags) = futures::try_join!(
        iot.list_targets(region, name),
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

/// Why a profile that carries ownership tags is not exported: another cluster manages it, or
/// this one already does.
fn owned_by(observed: &Observed, cluster_id: Option<&str>) -> Option<String> {
    let tag = |k: &str| observed.tags.get(k).map(String::as_str);
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

/// The manifests as one YAML stream, `---` between documents.
pub fn to_yaml(manifests: &[SecurityProfile]) -> Result<String, serde_yaml_ng::Error> {
    let docs = manifests
        .iter()
        .map(serde_yaml_ng::to_string)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(docs.join("---\n"))
}

/// One `NAME.yaml` per manifest in `dir` (created if missing).
pub fn write_files(dir: &Path, manifests: &[SecurityProfile]) -> Result<(), ExportError> {
    let err = |path: &Path| {
        let path = path.display().to_string();
        move |source| ExportError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(err(dir))?;
    for sp in manifests {
        let name = sp.metadata.name.as_deref().unwrap_or("profile");
        let path = dir.join(format!("{name}.yaml"));
        let text = serde_yaml_ng::to_string(sp)?;
        std::fs::write(&path, text).map_err(err(&path))?;
    }
    Ok(())
}
