import assert from "node:assert/strict";
import { resolveEndpoint } from "../src/core/s3_endpoint.ts";

Deno.test("addressing style follows the provider: virtual-hosted for AWS, COS and OSS, path for the rest", () => {
  const style = (endpoint: string) => resolveEndpoint(endpoint, "auto").forcePathStyle ? "path" : "virtual";
  assert.equal(style(""), "virtual");
  assert.equal(style("s3.eu-west-1.amazonaws.com"), "virtual");
  assert.equal(style("cos.ap-nanjing.myqcloud.com"), "virtual");
  assert.equal(style("https://s3.oss-cn-hangzhou.aliyuncs.com"), "virtual");
  assert.equal(style("http://127.0.0.1:9000"), "path");
  assert.equal(style("http://localhost:9000"), "path");
  assert.equal(style("http://[::1]:9000"), "path");
  assert.equal(style("minio.storage.svc:9000"), "path");
  assert.equal(resolveEndpoint("cos.ap-nanjing.myqcloud.com", "path").forcePathStyle, true);
  assert.equal(resolveEndpoint("http://10.0.0.5:9000", "virtual").forcePathStyle, false);
});

Deno.test("an endpoint without a scheme is reached over HTTPS", () => {
  assert.equal(resolveEndpoint("cos.ap-nanjing.myqcloud.com", "auto").url, "https://cos.ap-nanjing.myqcloud.com");
  assert.equal(resolveEndpoint("http://minio:9000/", "auto").url, "http://minio:9000");
  assert.equal(resolveEndpoint("", "auto").url, undefined);
});
