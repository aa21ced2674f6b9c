{{/* The Dapr resources' shared parts. */}}

{{/* The app ids, as a list. */}}
{{- define "todo-agent.appIds" -}}
{{- $ids := list }}
{{- range $name := list "web" "reminder" "recurrence" "audit" }}
{{- $ids = append $ids (include "todo-agent.componentName" (dict "context" $ "component" $name)) }}
{{- end }}
{{- toJson $ids }}
{{- end }}

{{/* The pubsub.kafka metadata both pub/sub components share: the brokers and how to authenticate to them. */}}
{{- define "todo-agent.kafkaMetadata" -}}
{{- $k := .Values.kafka -}}
- name: brokers
  value: {{ include "todo-agent.kafkaBrokers" . | quote }}
- name: authType
  value: {{ $k.authType | quote }}
{{- if eq $k.authType "password" }}
- name: saslUsername
  value: {{ $k.sasl.username | quote }}
- name: saslPassword
  secretKeyRef:
    name: {{ $k.sasl.existingSecret }}
    key: {{ $k.sasl.passwordKey }}
- name: saslMechanism
  value: {{ $k.sasl.mechanism | quote }}
{{- end }}
{{- if eq $k.authType "mtls" }}
- name: caCert
  secretKeyRef:
    name: {{ $k.mtls.existingSecret }}
    key: {{ $k.mtls.caCertKey }}
- name: clientCert
  secretKeyRef:
    name: {{ $k.mtls.existingSecret }}
    key: {{ $k.mtls.clientCertKey }}
- name: clientKey
  secretKeyRef:
    name: {{ $k.mtls.existingSecret }}
    key: {{ $k.mtls.clientKeyKey }}
{{- end }}
{{- if and (ne $k.authType "none") $k.disableTls }}
- name: disableTls
  value: "true"
{{- end }}
{{- end }}

{{- define "todo-agent.daprMetadata" -}}
name: {{ .name }}
namespace: {{ .context.Release.Namespace }}
labels:
  {{- include "todo-agent.labels" (dict "context" .context "component" "dapr") | nindent 2 }}
{{- end }}
