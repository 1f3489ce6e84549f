//! S3: the organization trail's log files (listed by prefix, read as a stream) and the audit
//! bucket (records and event lists written, with Object Lock retention when asked).

use std::path::Path;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ObjectLockMode;
use tokio::io::AsyncRead;

use super::IdentityCenter;
use crate::error::{AwsError, aws};

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub key: String,
    pub size: u64,
}

/// How long a written object must be kept (S3 Object Lock), if at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Compliance (nobody can shorten it) rather than governance mode.
    pub compliance: bool,
    pub until: jiff::Timestamp,
}

impl IdentityCenter {
    /// Every object under `prefix` in `bucket`, in key order (paged by hand).
    pub async fn list_objects(&self, bucket: &str, prefix: &str) -> Result<Vec<Object>, AwsError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| aws("ListObjectsV2", e))?;
            for o in page.contents() {
                if let Some(key) = o.key() {
                    out.push(Object {
                        key: key.to_owned(),
                        size: o.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                    });
                }
            }
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => break,
            }
        }
        Ok(out)
    }

    /// GetObject: the object's body, not yet read.
    async fn object_body(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<aws_sdk_s3::primitives::ByteStream, AwsError> {
        let out = self
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| aws("GetObject", e))?;
        Ok(out.body)
    }

    /// The object's bytes as a stream (nothing is held in memory beyond its buffers).
    pub async fn read_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<impl AsyncRead + Send + Unpin + 'static, AwsError> {
        Ok(self.object_body(bucket, key).await?.into_async_read())
    }

    /// The whole object (small ones: an audit record).
    pub async fn get_object(&self, bucket: &str, key: &str) -> Result<Vec<u8>, AwsError> {
        let body = self.object_body(bucket, key).await?;
        let bytes = body.collect().await.map_err(|e| AwsError::Retryable {
            op: "GetObject",
            kind: crate::error::RetryKind::Network,
            message: e.to_string(),
        })?;
        Ok(bytes.to_vec())
    }

    /// Writes `body` at `key`; the same key again replaces it (or, in a versioned bucket,
    /// adds a version: the key is the record's identity).
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        retention: Option<Retention>,
    ) -> Result<(), AwsError> {
        self.put(bucket, key, ByteStream::from(body), content_type, retention)
            .await
    }

    /// Writes the file at `path` (streamed from disk) at `key`.
    pub async fn put_file(
        &self,
        bucket: &str,
        key: &str,
        path: &Path,
        content_type: &str,
        retention: Option<Retention>,
    ) -> Result<(), AwsError> {
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| AwsError::Final {
                op: "PutObject",
                message: format!("{}: {e}", path.display()),
            })?;
        self.put(bucket, key, body, content_type, retention).await
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: ByteStream,
        content_type: &str,
        retention: Option<Retention>,
    ) -> Result<(), AwsError> {
        let mut req = self
            .s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(body);
        if let Some(r) = retention {
            // S3 wants an integrity checksum with every object under Object Lock.
            let until = aws_smithy_types::DateTime::from_secs(r.until.as_second());
            req = req
                .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Crc32)
                .object_lock_mode(if r.compliance {
                    ObjectLockMode::Compliance
                } else {
                    ObjectLockMode::Governance
                })
                .object_lock_retain_until_date(until);
        }
        req.send().await.map_err(|e| aws("PutObject", e))?;
        Ok(())
    }
}
