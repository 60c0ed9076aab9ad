//! What a resource's namespace says about it: annotations only the cluster admin sets.

use super::Context;
use super::error::Error;
use crate::api::DEFAULT_REGION_ANNOTATION;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use kube::{Client, ResourceExt};
use std::collections::BTreeMap;

/// The annotations of a resource's namespace.
#[derive(Clone, Debug, Default)]
pub(crate) struct NamespaceFacts {
    annotations: BTreeMap<String, String>,
}

impl NamespaceFacts {
    /// `iot.awscc.io/default-region`.
    pub(crate) fn default_region(&self) -> Option<&str> {
        self.annotation(DEFAULT_REGION_ANNOTATION)
    }

    pub(crate) fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.get(key).map(String::as_str)
    }

    /// Every annotation (the guardrails read several).
    pub(crate) fn annotations(&self) -> &BTreeMap<String, String> {
        &self.annotations
    }
}

/// The namespace of `sp`: the one the context was scoped to (read once per reconcile), else
/// read now.
pub(crate) async fn facts(ctx: &Context, sp: &impl ResourceExt) -> Result<NamespaceFacts, Error> {
    match &ctx.namespace {
        Some(facts) => Ok(facts.as_ref().clone()),
        None => read(&ctx.client, &sp.namespace().unwrap_or_default()).await,
    }
}

/// Reads a namespace (one that is gone has no annotations).
pub(crate) async fn read(client: &Client, namespace: &str) -> Result<NamespaceFacts, Error> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let annotations = namespaces
        .get_opt(namespace)
        .await?
        .map(|ns| ns.annotations().clone())
        .unwrap_or_default();
    Ok(NamespaceFacts { annotations })
}
