{{/*
Names are fixed rather than derived from the release name: the seed's commands name them
(`kubectl get cm -n coredog-system coredog`, MutatingWebhookConfiguration `coredog`), and the
webhook configuration and ClusterRoles are cluster-wide, so one CoreDog runs per cluster.
*/}}

{{- define "coredog.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: coredog
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "coredog.selectorLabels" -}}
app.kubernetes.io/name: coredog
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "coredog.image" -}}
{{- include "coredog.imageRef" (dict "repository" .Values.image.repository "tag" (.Values.image.tag | default .Chart.AppVersion) "digest" .Values.image.digest) -}}
{{- end }}

{{/* The CoreDog configuration as a map; a YAML error stops the install with the parser's message. */}}
{{- define "coredog.config" -}}
{{- $config := fromYaml .Values.config.coredog -}}
{{- if hasKey $config "Error" -}}
{{- fail (printf "config.coredog is not valid YAML: %s" $config.Error) -}}
{{- end -}}
{{- toJson $config -}}
{{- end }}

{{/* CorefileDir: the directory on the nodes, mounted at the same path in the watcher. */}}
{{- define "coredog.corefileDir" -}}
{{- $config := include "coredog.config" . | fromJson -}}
{{- $config.CorefileDir | default "/data/coredog-system/dumps" -}}
{{- end }}

{{/* Watcher.HealthPort: /healthz, /readyz and /metrics of the watcher; 0 means none. */}}
{{- define "coredog.watcherHealthPort" -}}
{{- $config := include "coredog.config" . | fromJson -}}
{{- dig "Watcher" "HealthPort" 9102 $config | int -}}
{{- end }}

{{/*
The configuration the webhook reads (ConfigMap coredog-webhook): CorefileDir and StorageConfig
without the S3 credentials. The webhook uses only CorefileDir, but its parser checks StorageConfig
as the watcher's does; the notice channels (whose URLs carry keys too) stay with the watcher.
*/}}
{{- define "coredog.webhookConfig" -}}
{{- $config := include "coredog.config" . | fromJson -}}
{{- $webhook := dict -}}
{{- if hasKey $config "CorefileDir" }}{{ $_ := set $webhook "CorefileDir" $config.CorefileDir }}{{ end -}}
{{- if kindIs "map" $config.StorageConfig -}}
{{- $storage := omit $config.StorageConfig "s3AccesskeyID" "s3SecretAccessKey" -}}
{{- $_ := set $webhook "StorageConfig" $storage -}}
{{- end -}}
{{- toYaml $webhook -}}
{{- end }}

{{/* Fails when the S3 credentials are set both in config.coredog and through existingSecret. */}}
{{- define "coredog.checkCredentials" -}}
{{- $config := include "coredog.config" . | fromJson -}}
{{- $storage := $config.StorageConfig | default dict -}}
{{- if and .Values.existingSecret (kindIs "map" $storage) -}}
{{- $inConfig := list -}}
{{- range list "s3AccesskeyID" "s3SecretAccessKey" -}}
{{- if get $storage . }}{{ $inConfig = append $inConfig (printf "StorageConfig.%s" .) }}{{ end -}}
{{- end -}}
{{- if $inConfig -}}
{{- fail (printf "the S3 credentials are set twice: existingSecret=%s and %s in config.coredog. Keep one source: delete %s from config.coredog (the Secret is recommended), or set existingSecret=\"\"" .Values.existingSecret (join " and " $inConfig) (join " and " $inConfig)) -}}
{{- end -}}
{{- end -}}
{{- end }}

{{/* Fails when fs.suid_dumpable is asked for without kernel.core_pattern: the init container that sets both runs only with corePattern. */}}
{{- define "coredog.checkNodeSetup" -}}
{{- if and (ne (toString .Values.nodeSetup.suidDumpable) "") (not .Values.nodeSetup.corePattern) -}}
{{- fail (printf "nodeSetup.suidDumpable=%v needs nodeSetup.corePattern: the node-setup init container sets both and runs only when corePattern is set (e.g. nodeSetup.corePattern=/corefile/core.%%e.%%p.%%h.%%t); or set nodeSetup.suidDumpable=\"\"" .Values.nodeSetup.suidDumpable) -}}
{{- end -}}
{{- end }}

{{/* repository:tag, or repository@digest (or repository:tag@digest) when a digest is given. */}}
{{- define "coredog.imageRef" -}}
{{- $ref := .repository -}}
{{- if .tag }}{{ $ref = printf "%s:%s" $ref .tag }}{{ end -}}
{{- if .digest }}{{ $ref = printf "%s@%s" $ref .digest }}{{ end -}}
{{- $ref -}}
{{- end }}

{{/* matchConditions exist from Kubernetes 1.28 (beta, on by default; GA in 1.30). */}}
{{- define "coredog.matchConditionsSupported" -}}
{{- if and .Values.webhook.matchConditions (semverCompare ">=1.28.0-0" .Capabilities.KubeVersion.Version) -}}true{{- end -}}
{{- end }}

{{/* The system-* priority classes the chart's pods use, which need a ResourceQuota outside kube-system on GKE. */}}
{{- define "coredog.criticalPriorityClasses" -}}
{{- $classes := list -}}
{{- range list .Values.watcher.priorityClassName .Values.webhook.priorityClassName -}}
{{- if and (has . (list "system-node-critical" "system-cluster-critical")) (not (has . $classes)) }}{{ $classes = append $classes . }}{{ end -}}
{{- end -}}
{{- toJson $classes -}}
{{- end }}
