//! Custom resources: CRD install/removal with discovery, status subresource, generation,
//! finalizers and deletionTimestamp.

use crate::common::{Widget, WidgetStatus, api_status, install_widgets, start, widget};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn crd_install_serves_kind_and_removal_drops_it() {
    let (_sb, client) = start().await;
    assert!(
        !kube::Discovery::new(client.clone())
            .run()
            .await
            .unwrap()
            .has_group("test.sandbox.io")
    );
    install_widgets(&client).await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = crds.get("widgets.test.sandbox.io").await.unwrap();
    let conds = crd.status.clone().unwrap().conditions.unwrap();
    assert!(
        conds
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True")
    );

    let discovery = kube::Discovery::new(client.clone()).run().await.unwrap();
    let (ar, caps) = discovery
        .resolve_gvk(&kube::api::GroupVersionKind::gvk(
            "test.sandbox.io",
            "v1",
            "Widget",
        ))
        .expect("Widget discovered");
    assert_eq!(ar.plural, "widgets");
    assert!(
        caps.subresources
            .iter()
            .any(|(s, _)| s.plural == "widgets/status" || s.plural == "status")
    );

    let widgets: Api<Widget> = Api::namespaced(client.clone(), "default");
    let mut held = widget("w1", 1);
    held.metadata.finalizers = Some(vec!["test.sandbox.io/hold".into()]);
    widgets.create(&PostParams::default(), &held).await.unwrap();
    widgets
        .create(&PostParams::default(), &widget("w0", 1))
        .await
        .unwrap();
    assert!(crd.metadata.finalizers.as_ref().is_some_and(|f| {
        f.iter()
            .any(|f| f == "customresourcecleanup.apiextensions.k8s.io")
    }));

    // The CRD waits for its custom resources, which wait for their finalizers.
    let pending = crds
        .delete("widgets.test.sandbox.io", &DeleteParams::default())
        .await
        .unwrap();
    assert!(pending.is_left(), "the CRD is terminating, not gone");
    assert_eq!(api_status(&widgets.get("w0").await.unwrap_err()).0, 404);
    assert!(
        widgets
            .get("w1")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_some()
    );
    assert!(
        crds.get("widgets.test.sandbox.io")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_some()
    );
    let refused = widgets
        .create(&PostParams::default(), &widget("w2", 1))
        .await
        .unwrap_err();
    assert_eq!(api_status(&refused), (405, "MethodNotAllowed".into()));

    widgets
        .patch(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    assert_eq!(
        api_status(&crds.get("widgets.test.sandbox.io").await.unwrap_err()).0,
        404
    );
    for _ in 0..50 {
        if !kube::Discovery::new(client.clone())
            .run()
            .await
            .unwrap()
            .has_group("test.sandbox.io")
        {
            let err = widgets.get("w1").await.unwrap_err();
            assert_eq!(api_status(&err).0, 404);
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the group stayed in discovery after the CRD was deleted");
}

#[tokio::test]
async fn status_subresource_and_generation() {
    let (_sb, client) = start().await;
    install_widgets(&client).await;
    let api: Api<Widget> = Api::namespaced(client, "default");
    let mut w = widget("g", 1);
    w.status = Some(WidgetStatus {
        observed: 99,
        conditions: vec![],
    });
    let created = api.create(&PostParams::default(), &w).await.unwrap();
    assert_eq!(
        created.status, None,
        "create drops status when the status subresource is on"
    );
    assert_eq!(created.metadata.generation, Some(1));

    // The main endpoint ignores status; a spec change bumps generation.
    let mut changed = created.clone();
    changed.spec.size = 2;
    changed.status = Some(WidgetStatus {
        observed: 5,
        conditions: vec![],
    });
    let updated = api
        .replace("g", &PostParams::default(), &changed)
        .await
        .unwrap();
    assert_eq!(updated.status, None);
    assert_eq!(updated.metadata.generation, Some(2));

    // /status ignores everything but status and never bumps generation.
    let patched = api
        .patch_status(
            "g",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 50}, "status": {"observed": 2}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.status.as_ref().unwrap().observed, 2);
    assert_eq!(patched.spec.size, 2);
    assert_eq!(patched.metadata.generation, Some(2));

    // Metadata-only changes do not bump generation.
    let labelled = api
        .patch(
            "g",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
        )
        .await
        .unwrap();
    assert_eq!(labelled.metadata.generation, Some(2));
    assert!(
        labelled.resource_version() > patched.resource_version()
            || labelled.resource_version() != patched.resource_version()
    );

    // Strategic merge patch is refused for custom resources, as the real server does.
    let err = api
        .patch(
            "g",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"size": 3}})),
        )
        .await
        .unwrap_err();
    assert_eq!(api_status(&err), (415, "UnsupportedMediaType".into()));
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let (_sb, client) = start().await;
    install_widgets(&client).await;
    let api: Api<Widget> = Api::namespaced(client, "default");
    let mut w = widget("f", 1);
    w.metadata.finalizers = Some(vec!["test.sandbox.io/hold".into()]);
    api.create(&PostParams::default(), &w).await.unwrap();

    let res = api.delete("f", &DeleteParams::default()).await.unwrap();
    let pending = res.left().expect("object returned while finalizers remain");
    assert!(pending.metadata.deletion_timestamp.is_some());
    let still = api.get("f").await.unwrap();
    assert!(still.metadata.deletion_timestamp.is_some());

    let err = api
        .patch(
            "f",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": ["test.sandbox.io/hold", "new/one"]}})),
        )
        .await
        .unwrap_err();
    assert_eq!(api_status(&err), (422, "Invalid".into()));

    api.patch(
        "f",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert_eq!(api_status(&api.get("f").await.unwrap_err()).0, 404);
}

#[tokio::test]
async fn invalid_custom_resources_get_422_with_field_causes() {
    let (_sb, client) = start().await;
    install_widgets(&client).await;
    let api: Api<Widget> = Api::namespaced(client, "default");
    let status_of = |e: kube::Error| match e {
        kube::Error::Api(s) => s,
        other => panic!("expected an API error, got {other:?}"),
    };

    let mut w = widget("bad", 1);
    w.spec.color = Some("purple".into());
    let s = status_of(api.create(&PostParams::default(), &w).await.unwrap_err());
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
    // Schema errors keep the CEL rules from running, which the server reports as one more cause.
    assert!(
        s.message.starts_with(
            r#"Widget.test.sandbox.io "bad" is invalid: [spec.color: Unsupported value: "purple": supported values: "red", "green", "blue", "#
        ),
        "{}",
        s.message
    );
    let details = s.details.unwrap();
    assert_eq!(details.kind, "Widget");
    assert_eq!(details.group, "test.sandbox.io");
    assert_eq!(details.causes[0].field, "spec.color");
    assert_eq!(details.causes[0].reason, "FieldValueNotSupported");

    w.spec.size = -1;
    let s = status_of(api.create(&PostParams::default(), &w).await.unwrap_err());
    assert!(
        s.message.contains(
            "spec.size: Invalid value: -1: spec.size in body should be greater than or equal to 0"
        ),
        "{}",
        s.message
    );
    let causes = s.details.unwrap().causes;
    assert!(
        causes
            .iter()
            .any(|c| c.field == "spec.size" && c.reason == "FieldValueInvalid"),
        "{causes:?}"
    );

    // A CEL transition rule with oldSelf.
    api.create(&PostParams::default(), &widget("shrink", 5))
        .await
        .unwrap();
    let s = status_of(
        api.patch(
            "shrink",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 2}})),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(s.code, 422);
    assert!(
        s.message
            .contains("spec: Invalid value: \"object\": size may not shrink"),
        "{}",
        s.message
    );
    assert_eq!(
        api.get("shrink").await.unwrap().spec.size,
        5,
        "the rejected write was not stored"
    );

    // Unknown fields are pruned (and refused with fieldValidation=Strict).
    let raw: Api<kube::api::DynamicObject> = Api::namespaced_with(
        api.clone().into_client(),
        "default",
        &kube::api::ApiResource::erase::<Widget>(&()),
    );
    let mut obj: kube::api::DynamicObject =
        serde_json::from_value(json!({"apiVersion": "test.sandbox.io/v1", "kind": "Widget",
            "metadata": {"name": "pruned"}, "spec": {"size": 1, "shape": "round"}}))
        .unwrap();
    let created = raw.create(&PostParams::default(), &obj).await.unwrap();
    assert_eq!(created.data["spec"], json!({"size": 1}));
    obj.metadata.name = Some("strict".into());
    let strict = raw
        .patch(
            "strict",
            &PatchParams::apply("test").validation_strict(),
            &Patch::Apply(&obj),
        )
        .await
        .unwrap_err();
    let s = status_of(strict);
    assert_eq!(s.code, 400);
    assert!(
        s.message
            .contains(r#"strict decoding error: unknown field "spec.shape""#),
        "{}",
        s.message
    );
}

/// Aggregated discovery (what kubectl asks for first) follows CRDs too.
#[tokio::test]
async fn aggregated_discovery_follows_crds() {
    let (_sb, client) = start().await;
    let fetch = |path: &'static str| {
        let client = client.clone();
        async move {
            let req = http::Request::get(path)
                .header(
                    "accept",
                    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
                )
                .body(Vec::new())
                .unwrap();
            let text = client.request_text(req).await.unwrap();
            serde_json::from_str::<serde_json::Value>(&text).unwrap()
        }
    };
    let core = fetch("/api").await;
    assert_eq!(core["kind"], "APIGroupDiscoveryList");
    let core_resources = &core["items"][0]["versions"][0]["resources"];
    assert!(
        core_resources
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["resource"] == "configmaps" && r["scope"] == "Namespaced")
    );

    install_widgets(&client).await;
    let groups = fetch("/apis").await;
    let widgets = groups["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["metadata"]["name"] == "test.sandbox.io")
        .expect("the CRD's group is listed");
    let r = &widgets["versions"][0]["resources"][0];
    assert_eq!(r["resource"], "widgets");
    assert_eq!(r["responseKind"]["kind"], "Widget");
    assert_eq!(r["shortNames"], json!(["wd"]));
    assert_eq!(r["subresources"][0]["subresource"], "status");
}
