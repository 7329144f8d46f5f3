// Where Pulumi keeps the stack's state, when not in the admin's own folder: the association's
// own S3-compatible object storage in the EU (BASTIDE_BACKEND), so that the state does not live
// only on one laptop and a new admin can pick it up.
//
// The URL is the one `pulumi login` takes for an S3-compatible server (Pulumi's "Using a DIY
// backend" guide): s3://<bucket>[/<folder>]?endpoint=…&region=…&s3ForcePathStyle=true. Pulumi
// opens it with gocloud.dev's s3blob (google/go-cloud blob/s3blob/s3blob.go, v0.46.0): the host
// is the bucket; `endpoint`, `region` and `profile` go to the AWS SDK v2 configuration
// (aws/aws.go V2ConfigFromURLParams, which uses `endpoint` as the whole URL of the service, so
// it carries its https:// scheme); `s3ForcePathStyle` is kept there as the V1 name of
// `use_path_style`; an unknown parameter is an error. The keys are AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY in the environment, as for any AWS SDK program.
//
// Bastide asks for more than Pulumi does, so that a mistake is caught here, named, before
// Pulumi runs: an https endpoint (the state holds the member list), a region (the SDK signs with
// it), and path-style addressing (one endpoint host for every bucket, as EU providers document).

export const BACKEND_ENV = "BASTIDE_BACKEND";
export const S3_KEY_VARIABLES = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] as const;

export const BACKEND_EXAMPLE = "s3://asso-exemple-pulumi?endpoint=https://fsn1.your-objectstorage.com&region=fsn1&s3ForcePathStyle=true";

export interface S3Backend {
  bucket: string;
  /** Folder inside the bucket, "" for its root. */
  folder: string;
  /** https://host[:port] */
  endpoint: string;
  region: string;
  /** The URL as Pulumi is given it. */
  url: string;
}

export class BackendError extends Error {
  constructor(problem: string) {
    super(`${BACKEND_ENV}: ${problem}. Expected the form ${BACKEND_EXAMPLE} (the bucket, an optional folder, the provider's https endpoint and region).`);
    this.name = "BackendError";
  }
}

const BUCKET = /^(?!xn--)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const FOLDER = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;
const REGION = /^[a-z0-9][a-z0-9-]{0,62}$/;
const HOST = /^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/i;
const KNOWN = new Set(["endpoint", "region", "s3ForcePathStyle", "use_path_style"]);

/** The backend URL, checked part by part; throws a BackendError naming the part to fix. */
export function parseS3Backend(text: string): S3Backend {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new BackendError(`${JSON.stringify(text)} is not a URL`);
  }
  if (url.protocol !== "s3:") throw new BackendError(`the scheme is ${url.protocol.replace(/:$/, "")}, not s3 (the association's S3-compatible object storage)`);
  if (url.username || url.password) throw new BackendError("keys never go in the URL: give them as AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  const bucket = url.hostname;
  if (!BUCKET.test(bucket)) throw new BackendError(`${JSON.stringify(bucket)} is not a bucket name (3-63 lower-case letters, digits, dots and hyphens)`);
  const folder = decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, "");
  if (folder !== "" && !FOLDER.test(folder)) throw new BackendError(`the folder ${JSON.stringify(folder)} may hold letters, digits, dots, hyphens, underscores and slashes only`);
  for (const key of url.searchParams.keys())
    if (!KNOWN.has(key)) throw new BackendError(`${key} is not a setting Bastide passes on (endpoint, region, s3ForcePathStyle)`);
  const endpointText = url.searchParams.get("endpoint");
  if (!endpointText) throw new BackendError("the endpoint is missing: add endpoint=https://<the provider's S3 host>");
  let endpoint: URL;
  try {
    endpoint = new URL(endpointText);
  } catch {
    throw new BackendError(`the endpoint ${JSON.stringify(endpointText)} must be a whole https URL, such as https://fsn1.your-objectstorage.com`);
  }
  if (endpoint.protocol !== "https:") throw new BackendError(`the endpoint ${JSON.stringify(endpointText)} must use https: the state holds the member list`);
  if (!HOST.test(endpoint.hostname) || (endpoint.pathname !== "/" && endpoint.pathname !== "") || endpoint.search || endpoint.username)
    throw new BackendError(`the endpoint ${JSON.stringify(endpointText)} must be https://<host>, without a path`);
  const region = url.searchParams.get("region");
  if (!region || !REGION.test(region)) throw new BackendError(`the region is ${region ? JSON.stringify(region) + ", not a region name" : "missing"}: add region=<the provider's region, such as fsn1 or fr-par>`);
  const pathStyle = url.searchParams.get("s3ForcePathStyle") ?? url.searchParams.get("use_path_style");
  if (pathStyle !== "true") throw new BackendError("path-style addressing is needed: add s3ForcePathStyle=true");
  const origin = `https://${endpoint.host}`;
  return { bucket, folder, endpoint: origin, region, url: s3BackendUrl({ bucket, folder, endpoint: origin, region }) };
}

/** The URL Pulumi is given, always written the same way. */
export function s3BackendUrl(parts: Omit<S3Backend, "url">): string {
  return `s3://${parts.bucket}${parts.folder ? `/${parts.folder}` : ""}?endpoint=${parts.endpoint}&region=${parts.region}&s3ForcePathStyle=true`;
}

/** The S3 keys a remote backend needs that the environment lacks. */
export function missingBackendKeys(env: Readonly<Record<string, string | undefined>>): string[] {
  return S3_KEY_VARIABLES.filter((name) => !env[name]);
}
