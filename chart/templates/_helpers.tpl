{{/*
Names, labels, the image, the Secret names and the checks every render makes. Component helpers take
(dict "context" $ "component" "web"), as Argo CD's chart does.
*/}}

{{- define "todo-agent.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* `<release>-<chart>` (or the release alone when it already holds the chart name), at most 63 characters. */}}
{{- define "todo-agent.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "todo-agent.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The name of a component's resources, which is also its Dapr app id: `<fullname>-<component>`, at most 58
characters, because the Dapr operator names a Service `<app-id>-dapr` (63 at most). The fullname is shortened,
never the component, so the names stay distinct.
*/}}
{{- define "todo-agent.componentName" -}}
{{- $max := sub 57 (len .component) | int }}
{{- printf "%s-%s" (include "todo-agent.fullname" .context | trunc $max | trimSuffix "-") .component }}
{{- end }}

{{- define "todo-agent.selectorLabels" -}}
app.kubernetes.io/name: {{ include "todo-agent.name" .context }}
app.kubernetes.io/instance: {{ .context.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "todo-agent.labels" -}}
helm.sh/chart: {{ include "todo-agent.chart" .context }}
{{ include "todo-agent.selectorLabels" . }}
app.kubernetes.io/version: {{ .context.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .context.Release.Service }}
app.kubernetes.io/part-of: todo-agent
{{- with .context.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The labels every pod of this release carries (what the NetworkPolicy's "the release's pods" selects). */}}
{{- define "todo-agent.releaseSelector" -}}
app.kubernetes.io/name: {{ include "todo-agent.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "todo-agent.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "todo-agent.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "todo-agent.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Secret names: an existingSecret value, or the one the chart makes. */}}
{{- define "todo-agent.databaseSecretName" -}}
{{- default (printf "%s-database" (include "todo-agent.fullname" .)) .Values.database.existingSecret }}
{{- end }}

{{- define "todo-agent.secretKeySecretName" -}}
{{- default (printf "%s-secret-key" (include "todo-agent.fullname" .)) .Values.secretKey.existingSecret }}
{{- end }}

{{- define "todo-agent.apiTokenSecretName" -}}
{{- default (printf "%s-dapr-api-token" (include "todo-agent.fullname" .)) .Values.dapr.apiToken.existingSecret }}
{{- end }}

{{- define "todo-agent.appTokenSecretName" -}}
{{- default (printf "%s-dapr-app-token" (include "todo-agent.fullname" .)) .Values.dapr.appToken.existingSecret }}
{{- end }}

{{/* Whether the chart makes the database Secret (from database.url for a quick try). */}}
{{- define "todo-agent.chartMakesDatabaseSecret" -}}
{{- if and (not .Values.database.existingSecret) .Values.database.url }}true{{ end }}
{{- end }}

{{/*
The value of `key` in the Secret `name` if the cluster has it (so a generated token survives upgrades), else a new
random one; base64, for a Secret's `data`. Offline renders (helm template, the tests) always take the random branch.
*/}}
{{- define "todo-agent.randomOrExisting" -}}
{{- $existing := lookup "v1" "Secret" .context.Release.Namespace .name }}
{{- if and $existing $existing.data (index $existing.data .key) }}
{{- index $existing.data .key }}
{{- else }}
{{- randAlphaNum 48 | b64enc }}
{{- end }}
{{- end }}

{{/*
The Kafka brokers: the in-chart Redpanda's pod address, or kafka.brokers.
*/}}
{{- define "todo-agent.kafkaBrokers" -}}
{{- if .Values.redpanda.enabled }}
{{- $name := include "todo-agent.componentName" (dict "context" . "component" "redpanda") }}
{{- printf "%s-0.%s.%s.svc.cluster.local:9092" $name $name .Release.Namespace }}
{{- else }}
{{- .Values.kafka.brokers }}
{{- end }}
{{- end }}

{{/*
What a render refuses, each with the value to set. Included by the ConfigMap, which every render has.
*/}}
{{- define "todo-agent.validate" -}}
{{- if not (or .Values.database.existingSecret .Values.database.url) }}
{{- fail "database.existingSecret is required: name a Secret with the keys url (postgresql+psycopg://...) and daprConnectionString (postgres://...), or for a quick try set database.url and database.daprConnectionString" }}
{{- end }}
{{- if and (not .Values.database.existingSecret) .Values.database.url (not .Values.database.daprConnectionString) }}
{{- fail "database.daprConnectionString is required with database.url: the Dapr state store's pgx form of the same database, e.g. postgres://user:password@host:5432/todo?sslmode=require" }}
{{- end }}
{{- if and .Values.redpanda.enabled .Values.kafka.brokers }}
{{- fail "kafka.brokers is set while redpanda.enabled is true: set redpanda.enabled=false to use an external broker, or empty kafka.brokers" }}
{{- end }}
{{- if and (not .Values.redpanda.enabled) (not .Values.kafka.brokers) }}
{{- fail "kafka.brokers is required with redpanda.enabled=false: the external broker's host:port list" }}
{{- end }}
{{- if and (eq .Values.kafka.authType "password") (not (and .Values.kafka.sasl.username .Values.kafka.sasl.existingSecret)) }}
{{- fail "kafka.sasl.username and kafka.sasl.existingSecret are required with kafka.authType=password" }}
{{- end }}
{{- if and (eq .Values.kafka.authType "mtls") (not .Values.kafka.mtls.existingSecret) }}
{{- fail "kafka.mtls.existingSecret is required with kafka.authType=mtls" }}
{{- end }}
{{- if and .Values.ingress.enabled (not .Values.ingress.hosts) }}
{{- fail "ingress.hosts needs at least one host when ingress.enabled is true" }}
{{- end }}
{{- end }}

{{/* TODO_AGENT_PUBLIC_URL: config.publicUrl, else the first ingress host. */}}
{{- define "todo-agent.publicUrl" -}}
{{- if .Values.config.publicUrl }}
{{- .Values.config.publicUrl }}
{{- else if .Values.ingress.enabled }}
{{- printf "%s://%s" (ternary "https" "http" .Values.ingress.tls) (first .Values.ingress.hosts) }}
{{- end }}
{{- end }}
