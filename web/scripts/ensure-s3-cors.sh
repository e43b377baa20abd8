#!/usr/bin/env bash
# Lets browsers read model files through the pre-signed URLs the gateway
# hands out: the web client's 3D view and its downloads fetch them from the
# S3 endpoint, a different origin than the gateway, so the bucket needs a
# CORS rule allowing GET from any origin (the URLs themselves are the
# credential). Idempotent: does nothing when such a rule is there.
#
# Settings: AWS_ENDPOINT_URL, AWS_BUCKET_NAME, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, AWS_REGION from the environment, else from the local
# stack's .local/stack.env. Path-style addressing (S3-compatible servers).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ENV_FILE="$ROOT/.local/stack.env"

if [[ -z "${AWS_ENDPOINT_URL:-}" || -z "${AWS_BUCKET_NAME:-}" ]] && [[ -f "$ENV_FILE" ]]; then
  # Only the S3 settings, and without overriding what the caller set.
  while IFS='=' read -r key value; do
    case "$key" in
      AWS_ENDPOINT_URL | AWS_BUCKET_NAME | AWS_ACCESS_KEY_ID | AWS_SECRET_ACCESS_KEY | AWS_REGION)
        value="${value#\"}"
        [[ -n "${!key:-}" ]] || export "$key=${value%\"}"
        ;;
    esac
  done < <(grep -E '^[A-Z_]+=' "$ENV_FILE")
fi

for var in AWS_ENDPOINT_URL AWS_BUCKET_NAME AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY; do
  if [[ -z "${!var:-}" ]]; then
    echo "ensure-s3-cors: $var is not set (run 'make stack-up' first)" >&2
    exit 1
  fi
done
REGION="${AWS_REGION:-us-east-1}"
URL="${AWS_ENDPOINT_URL%/}/${AWS_BUCKET_NAME}?cors="
EMPTY_SHA=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

s3() {
  curl -sS --max-time 10 --aws-sigv4 "aws:amz:${REGION}:s3" \
    --user "${AWS_ACCESS_KEY_ID}:${AWS_SECRET_ACCESS_KEY}" "$@"
}

current="$(s3 -H "x-amz-content-sha256: $EMPTY_SHA" "$URL" || true)"
if grep -q '<AllowedMethod>GET</AllowedMethod>' <<<"$current" && grep -q '<AllowedOrigin>\*</AllowedOrigin>' <<<"$current"; then
  echo "ensure-s3-cors: bucket $AWS_BUCKET_NAME already allows browser GETs"
  exit 0
fi

body='<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedMethod>HEAD</AllowedMethod><AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader><ExposeHeader>Content-Length</ExposeHeader><MaxAgeSeconds>3600</MaxAgeSeconds></CORSRule></CORSConfiguration>'
sha="$(printf '%s' "$body" | sha256sum | cut -d' ' -f1)"
md5_hex="$(printf '%s' "$body" | md5sum | cut -d' ' -f1)"
# shellcheck disable=SC2059 # the format is the escaped digest, on purpose
md5="$(printf "$(sed 's/../\\x&/g' <<<"$md5_hex")" | base64)"
status="$(s3 -o /dev/null -w '%{http_code}' -X PUT \
  -H "x-amz-content-sha256: $sha" -H "Content-MD5: $md5" -H 'Content-Type: application/xml' \
  --data-binary "$body" "$URL")"
if [[ "$status" != 200 && "$status" != 204 ]]; then
  echo "ensure-s3-cors: setting the CORS rule of bucket $AWS_BUCKET_NAME failed (HTTP $status)" >&2
  exit 1
fi
echo "ensure-s3-cors: bucket $AWS_BUCKET_NAME now allows browser GETs of pre-signed URLs"
