//! The object store: one bucket, reached through `aws-sdk-s3`.
//!
//! Works with AWS and with S3-compatible servers (a custom endpoint with
//! path-style addressing). Conditional writes are never relied on: servers
//! differ there, so versions are assigned in MongoDB instead.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_s3::config::{Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

use crate::config::S3Settings;

#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error("S3 {op} of {key:?} failed: {message}")]
    Request {
        op: &'static str,
        key: String,
        message: String,
    },
    #[error("S3 presign of {key:?} failed: {message}")]
    Presign { key: String, message: String },
}

fn request_error<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    op: &'static str,
    key: &str,
    err: SdkError<E, R>,
) -> S3Error {
    let message = match &err {
        SdkError::ServiceError(e) => {
            let e = e.err();
            format!("{} {}", e.code().unwrap_or("error"), e.message().unwrap_or_default())
        }
        SdkError::DispatchFailure(e) => format!("cannot reach the server ({e:?})"),
        SdkError::TimeoutError(_) => "timed out".into(),
        other => format!("{other:?}"),
    };
    S3Error::Request {
        op,
        key: key.to_owned(),
        message,
    }
}

/// What HEAD and LIST tell about an object.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    pub content_type: Option<String>,
    pub metadata: HashMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Object {
    pub info: ObjectInfo,
    pub bytes: Vec<u8>,
}

#[derive(Clone)]
pub struct ObjectStore {
    client: Client,
    bucket: String,
}

impl ObjectStore {
    pub fn new(settings: &S3Settings) -> Self {
        let creds = Credentials::new(
            settings.access_key_id.clone(),
            settings.secret_access_key.expose().to_owned(),
            None,
            None,
            "cadscribe-config",
        );
        let mut conf = aws_sdk_s3::Config::builder()
            .behavior_version_latest()
            .region(Region::new(settings.region.clone()))
            .credentials_provider(creds)
            // Compatible servers differ in their support of the newer
            // default checksums; send and check them only when required.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if let Some(endpoint) = &settings.endpoint_url {
            conf = conf.endpoint_url(endpoint).force_path_style(true);
        }
        Self {
            client: Client::from_conf(conf.build()),
            bucket: settings.bucket.clone(),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// `s3://bucket/key`, the form the schema stores.
    pub fn uri(&self, key: &str) -> String {
        format!("s3://{}/{}", self.bucket, key)
    }

    /// The key inside our bucket of an `s3://` URI, if it is ours.
    pub fn key_of_uri<'a>(&self, uri: &'a str) -> Option<&'a str> {
        uri.strip_prefix("s3://")?
            .strip_prefix(self.bucket.as_str())?
            .strip_prefix('/')
    }

    /// Creates the bucket unless it exists (local stacks and tests).
    pub async fn ensure_bucket(&self) -> Result<(), S3Error> {
        if self.client.head_bucket().bucket(&self.bucket).send().await.is_ok() {
            return Ok(());
        }
        match self.client.create_bucket().bucket(&self.bucket).send().await {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.code(), Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists")) => Ok(()),
            Err(e) => Err(request_error("create bucket", &self.bucket, e)),
        }
    }

    /// Cheap reachability check: HEAD of the bucket.
    pub async fn ping(&self) -> Result<(), S3Error> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| request_error("head bucket", &self.bucket, e))
    }

    pub async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
        metadata: &[(&str, String)],
    ) -> Result<(), S3Error> {
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes));
        for (k, v) in metadata {
            req = req.metadata(*k, v);
        }
        req.send().await.map(|_| ()).map_err(|e| request_error("put", key, e))
    }

    pub async fn get(&self, key: &str) -> Result<Option<Object>, S3Error> {
        let out = match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(request_error("get", key, e)),
        };
        let info = ObjectInfo {
            key: key.to_owned(),
            size: out.content_length().unwrap_or_default().max(0) as u64,
            content_type: out.content_type().map(str::to_owned),
            metadata: out.metadata().cloned().unwrap_or_default(),
        };
        let body = out.body.collect().await.map_err(|e| S3Error::Request {
            op: "get",
            key: key.to_owned(),
            message: format!("reading the body: {e}"),
        })?;
        Ok(Some(Object {
            info,
            bytes: body.into_bytes().to_vec(),
        }))
    }

    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, S3Error> {
        match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => Ok(Some(ObjectInfo {
                key: key.to_owned(),
                size: out.content_length().unwrap_or_default().max(0) as u64,
                content_type: out.content_type().map(str::to_owned),
                metadata: out.metadata().cloned().unwrap_or_default(),
            })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(request_error("head", key, e)),
        }
    }

    /// Every object under `prefix`, following continuation tokens.
    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, S3Error> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| request_error("list", prefix, e))?;
            out.extend(page.contents().iter().filter_map(|o| {
                Some(ObjectInfo {
                    key: o.key()?.to_owned(),
                    size: o.size().unwrap_or_default().max(0) as u64,
                    content_type: None,
                    metadata: HashMap::new(),
                })
            }));
        }
        Ok(out)
    }

    /// Counts objects under `prefix`, stopping at `cap` (monitoring).
    pub async fn count(&self, prefix: &str, cap: usize) -> Result<(usize, bool), S3Error> {
        let mut n = 0;
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            n += page.map_err(|e| request_error("list", prefix, e))?.contents().len();
            if n >= cap {
                return Ok((n, true));
            }
        }
        Ok((n, false))
    }

    pub async fn delete(&self, key: &str) -> Result<(), S3Error> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| request_error("delete", key, e))
    }

    /// Deletes everything under `prefix`; returns how many objects went.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<usize, S3Error> {
        let objects = self.list(prefix).await?;
        for o in &objects {
            self.delete(&o.key).await?;
        }
        Ok(objects.len())
    }

    /// A pre-signed GET URL valid for `expires_in`.
    pub async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<String, S3Error> {
        let presign = |message: String| S3Error::Presign {
            key: key.to_owned(),
            message,
        };
        let conf = PresigningConfig::expires_in(expires_in).map_err(|e| presign(e.to_string()))?;
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(conf)
            .await
            .map_err(|e| presign(format!("{e:?}")))?;
        Ok(req.uri().to_owned())
    }
}
