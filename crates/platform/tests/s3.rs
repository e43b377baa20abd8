//! S3 adapter against the real S3-compatible server.

use std::time::Duration;

use platform::testkit::TestEnv;

#[tokio::test]
async fn put_get_head_list_delete_with_metadata() {
    let env = TestEnv::new();
    let store = env.store();
    store.ensure_bucket().await.unwrap();
    let prefix = env.key_prefix();
    let key = format!("{prefix}input/gear/gear_v1.py");
    let meta = [("project-id", "project-1".to_string()), ("version", "1".to_string())];
    store
        .put(&key, b"print('hi')\n".to_vec(), "text/x-python; charset=utf-8", &meta)
        .await
        .unwrap();
    store
        .put(
            &format!("{prefix}input/gear/gear_v2.py"),
            b"2".to_vec(),
            "text/x-python",
            &[],
        )
        .await
        .unwrap();
    store
        .put(&format!("{prefix}output/gear/x"), b"3".to_vec(), "text/plain", &[])
        .await
        .unwrap();

    let obj = store.get(&key).await.unwrap().expect("object exists");
    assert_eq!(obj.bytes, b"print('hi')\n");
    assert_eq!(obj.info.content_type.as_deref(), Some("text/x-python; charset=utf-8"));
    assert_eq!(
        obj.info.metadata.get("project-id").map(String::as_str),
        Some("project-1")
    );

    let head = store.head(&key).await.unwrap().expect("head finds it");
    assert_eq!(head.size, 12);
    assert_eq!(head.metadata.get("version").map(String::as_str), Some("1"));

    let listed = store.list(&format!("{prefix}input/")).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(store.count(&prefix, 100).await.unwrap(), (3, false));

    store.delete(&key).await.unwrap();
    assert!(store.get(&key).await.unwrap().is_none());
    assert!(store.head(&key).await.unwrap().is_none());
    assert_eq!(store.delete_prefix(&prefix).await.unwrap(), 2);
    assert!(store.list(&prefix).await.unwrap().is_empty());
}

#[tokio::test]
async fn presigned_get_downloads_then_expires() {
    let env = TestEnv::new();
    let store = env.store();
    store.ensure_bucket().await.unwrap();
    let key = format!("{}output/plate/v1/MyHeadlessModel.STL", env.key_prefix());
    store
        .put(&key, b"solid x\nendsolid x\n".to_vec(), "model/stl", &[])
        .await
        .unwrap();

    let url = store.presign_get(&key, Duration::from_secs(2)).await.unwrap();
    let http = reqwest::Client::new();
    let resp = http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"solid x\nendsolid x\n");

    tokio::time::sleep(Duration::from_millis(3500)).await;
    let expired = http.get(&url).send().await.unwrap();
    // AWS answers 403, some compatible servers 400: refused either way.
    assert!(
        expired.status().is_client_error(),
        "an expired URL must be refused, got {}",
        expired.status()
    );

    let tampered = url.replace("MyHeadlessModel.STL", "MyHeadlessModel.OBJ");
    assert_ne!(http.get(&tampered).send().await.unwrap().status(), 200);
    store.delete_prefix(&env.key_prefix()).await.unwrap();
}
