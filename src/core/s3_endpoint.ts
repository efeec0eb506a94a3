/**
 * S3 endpoint normalisation and addressing style.
 *
 * Alibaba OSS and Tencent COS reject path-style requests (403
 * `SecondLevelDomainForbidden`, `PathStyleDomainForbidden`), while MinIO,
 * Ceph RGW and anything reached by IP need path style. So the style is
 * chosen from the endpoint and can be overridden.
 *
 * @module
 */

/** Hosts of providers that want virtual-hosted style. */
const VIRTUAL_HOSTED_SUFFIXES = ["amazonaws.com", "amazonaws.com.cn", "myqcloud.com", "aliyuncs.com"];

/** How to reach the store. */
export interface ResolvedEndpoint {
  /** Endpoint URL for the SDK; undefined means AWS's own, from the region. */
  url: string | undefined;
  forcePathStyle: boolean;
  /** Why this style, for the start-up log. */
  reason: string;
}

/** `endpoint` as a URL: a bare host is reached over HTTPS. */
export function endpointUrl(endpoint: string): string {
  return endpoint.includes("://") ? endpoint : `https://${endpoint}`;
}

/** Normalises `endpoint` (a host or URL) and picks the addressing style. */
export function resolveEndpoint(endpoint: string, style: "auto" | "path" | "virtual"): ResolvedEndpoint {
  const url = endpoint === "" ? undefined : endpointUrl(endpoint).replace(/\/+$/, "");
  if (style !== "auto") return { url, forcePathStyle: style === "path", reason: `S3AddressingStyle is ${style}` };
  if (url === undefined) return { url, forcePathStyle: false, reason: "AWS endpoint" };
  const host = new URL(url).hostname.toLowerCase();
  if (VIRTUAL_HOSTED_SUFFIXES.some((suffix) => host === suffix || host.endsWith(`.${suffix}`))) {
    return { url, forcePathStyle: false, reason: `${host} needs virtual-hosted style` };
  }
  return { url, forcePathStyle: true, reason: `${host} is not a known virtual-hosted provider` };
}

/**
 * A common COS/OSS mistake is to paste the bucket's own domain as the
 * endpoint; the SDK would then prefix the bucket a second time.
 */
export function endpointIncludesBucket(endpoint: string, bucket: string): boolean {
  if (!endpoint || !bucket) return false;
  try {
    return new URL(endpointUrl(endpoint)).hostname.toLowerCase().startsWith(`${bucket.toLowerCase()}.`);
  } catch {
    return false;
  }
}
