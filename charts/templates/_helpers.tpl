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
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* The CoreDog configuration as a map; a YAML error stops the install with the parser's message. */}}
{{- define "coredog.config" -}}
{{- $config := fromYaml .Values.config.coredog -}}
{{- if hasKey $config "Error" -}}
{{- fail (printf "config.coredog is not valid YAML: %s" $config.Error) -}}
{{- end -}}
{{- toJson $config -}}
{{- end }}

{{/* CorefileDir: the dump root on the nodes, mounted at the same path in the watcher. */}}
{{- define "coredog.dumpRoot" -}}
{{- $config := include "coredog.config" . | fromJson -}}
{{- $config.CorefileDir | default "/data/coredog-system/dumps" -}}
{{- end }}

{{/* Watcher.HealthPort: /healthz, /readyz and /metrics of the watcher; 0 means none. */}}
{{- define "coredog.watcherHealthPort" -}}
{{- $config := include "coredog.config" . | fromJson -}}
{{- dig "Watcher" "HealthPort" 9102 $config | int -}}
{{- end }}
