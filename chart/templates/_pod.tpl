{{/*
The app components and the one Deployment they all share. Each component is the same image with its own command
(args), port, Dapr app id and Dapr Configuration.
*/}}

{{/* The four app components: their port, command and the values section that sizes them (a YAML map). */}}
{{- define "todo-agent.components" -}}
web:
  port: {{ .Values.web.port }}
  args: [serve]
  values: web
{{- range $name := list "reminder" "recurrence" "audit" }}
{{ $name }}:
  port: {{ (index $.Values.services $name).port }}
  args: [service, {{ $name }}, --port, {{ (index $.Values.services $name).port | quote }}]
  values: {{ $name }}
{{- end }}
{{- end }}

{{/* The Dapr Configuration a component's sidecar loads: the audit app's admits the web host's calls, the others' none. */}}
{{- define "todo-agent.daprConfigName" -}}
{{- if eq .component "audit" }}
{{- include "todo-agent.componentName" . }}
{{- else }}
{{- include "todo-agent.componentName" (dict "context" .context "component" "deny-invoke") }}
{{- end }}
{{- end }}

{{/* Pod annotations: the checksums that roll pods on a change, and the Dapr sidecar's settings (all strings). */}}
{{- define "todo-agent.podAnnotations" -}}
{{- $ := .context -}}
checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") $ | sha256sum }}
checksum/secret: {{ include "todo-agent.secretChecksum" $ }}
checksum/dapr: {{ include "todo-agent.daprChecksum" $ }}
dapr.io/enabled: "true"
dapr.io/app-id: {{ include "todo-agent.componentName" . | quote }}
dapr.io/app-port: {{ .port | quote }}
dapr.io/app-protocol: "http"
dapr.io/config: {{ include "todo-agent.daprConfigName" . | quote }}
dapr.io/api-token-secret: {{ include "todo-agent.apiTokenSecretName" $ | quote }}
dapr.io/app-token-secret: {{ include "todo-agent.appTokenSecretName" $ | quote }}
dapr.io/log-level: {{ $.Values.dapr.logLevel | quote }}
dapr.io/log-as-json: {{ $.Values.dapr.logAsJson | quote }}
dapr.io/enable-api-logging: {{ $.Values.dapr.enableApiLogging | quote }}
dapr.io/enable-app-health-check: "true"
dapr.io/app-health-check-path: "/healthz"
dapr.io/enable-metrics: "true"
dapr.io/metrics-port: "9090"
dapr.io/sidecar-cpu-request: {{ $.Values.dapr.sidecar.resources.requests.cpu | quote }}
dapr.io/sidecar-cpu-limit: {{ $.Values.dapr.sidecar.resources.limits.cpu | quote }}
dapr.io/sidecar-memory-request: {{ $.Values.dapr.sidecar.resources.requests.memory | quote }}
dapr.io/sidecar-memory-limit: {{ $.Values.dapr.sidecar.resources.limits.memory | quote }}
dapr.io/env: {{ printf "GOMEMLIMIT=%s" $.Values.dapr.sidecar.goMemLimit | quote }}
dapr.io/sidecar-seccomp-profile-type: "RuntimeDefault"
dapr.io/graceful-shutdown-seconds: {{ $.Values.dapr.gracefulShutdownSeconds | quote }}
{{- /* The pods mount no Kubernetes API token, and the sidecar's built-in Kubernetes secret store needs one to
start; component secrets are resolved by the Dapr operator, so the sidecar does not need that store. */}}
dapr.io/disable-builtin-k8s-secret-store: "true"
{{- end }}

{{/*
checksum/secret: a hash of the values the Secrets are made from (not of the Secrets: a generated token is random in
every offline render, and GitOps tools would roll the pods on each sync).
*/}}
{{- define "todo-agent.secretChecksum" -}}
{{- list .Values.database .Values.secretKey .Values.cohere .Values.dapr.apiToken .Values.dapr.appToken .Values.kafka | toJson | sha256sum }}
{{- end }}

{{/*
checksum/dapr: the Dapr resources a sidecar reads only at start-up, so a change restarts the sidecars: the
Resiliency and the Configurations, and the Components too unless HotReload applies their changes in place.
*/}}
{{- define "todo-agent.daprChecksum" -}}
{{- $ := . }}
{{- $all := "" }}
{{- $files := list "resiliency" "configuration" }}
{{- if not .Values.dapr.hotReload }}
{{- $files = concat $files (list "pubsub" "statestore" "bindings") }}
{{- end }}
{{- range $file := $files }}
{{- $all = print $all (include (print $.Template.BasePath "/dapr/" $file ".yaml") $) }}
{{- end }}
{{- $all | sha256sum }}
{{- end }}

{{/* The environment every app container has beyond the ConfigMap: the Secrets' values. */}}
{{- define "todo-agent.secretEnv" -}}
- name: TODO_AGENT_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "todo-agent.databaseSecretName" . }}
      key: {{ .Values.database.urlKey }}
- name: TODO_AGENT_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "todo-agent.secretKeySecretName" . }}
      key: {{ .Values.secretKey.existingSecretKey }}
{{- /* The injector gives this token to daprd only; the app sends it on every call to its sidecar. */}}
- name: DAPR_API_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "todo-agent.apiTokenSecretName" . }}
      key: token
{{- /* The token daprd sends the app (dapr-api-token); the app's delivery routes refuse requests without it. */}}
- name: APP_API_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "todo-agent.appTokenSecretName" . }}
      key: token
{{- end }}

{{/* The volumes of a read-only root filesystem: /tmp and the data directory. */}}
{{- define "todo-agent.scratchVolumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
- name: data
  emptyDir:
    sizeLimit: 256Mi
{{- end }}

{{- define "todo-agent.scratchMounts" -}}
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: /data
{{- end }}

{{- define "todo-agent.scheduling" -}}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
A component's Deployment. Takes (dict "context" $ "component" NAME "port" PORT "args" ARGS "values" SECTION
"replicas" N-or-nil "spread" BOOL "env" EXTRA-ENV-LIST).
*/}}
{{- define "todo-agent.deployment" -}}
{{- $ := .context }}
{{- $v := .values }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "todo-agent.componentName" . }}
  namespace: {{ $.Release.Namespace }}
  labels:
    {{- include "todo-agent.labels" . | nindent 4 }}
spec:
  {{- if not (kindIs "invalid" .replicas) }}
  replicas: {{ .replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "todo-agent.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "todo-agent.labels" . | nindent 8 }}
      annotations:
        {{- include "todo-agent.podAnnotations" . | nindent 8 }}
        {{- with $v.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "todo-agent.serviceAccountName" $ }}
      automountServiceAccountToken: false
      {{- with $.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $.Values.podSecurityContext | nindent 8 }}
      terminationGracePeriodSeconds: {{ $.Values.terminationGracePeriodSeconds }}
      {{- with include "todo-agent.scheduling" $ }}
      {{- . | nindent 6 }}
      {{- end }}
      {{- if .spread }}
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "todo-agent.selectorLabels" . | nindent 14 }}
      {{- end }}
      containers:
        - name: {{ .component }}
          image: {{ include "todo-agent.image" $ | quote }}
          imagePullPolicy: {{ $.Values.image.pullPolicy }}
          args:
            {{- toYaml .args | nindent 12 }}
          ports:
            - name: http
              containerPort: {{ .port }}
              protocol: TCP
          envFrom:
            - configMapRef:
                name: {{ include "todo-agent.fullname" $ }}-config
          env:
            {{- include "todo-agent.secretEnv" $ | nindent 12 }}
            {{- with .env }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
            {{- with $v.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          startupProbe:
            httpGet:
              path: /healthz
              port: http
            {{- toYaml $.Values.probes.startup | nindent 12 }}
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            {{- toYaml $.Values.probes.liveness | nindent 12 }}
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
            {{- toYaml $.Values.probes.readiness | nindent 12 }}
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            {{- toYaml $.Values.securityContext | nindent 12 }}
          volumeMounts:
            {{- include "todo-agent.scratchMounts" $ | nindent 12 }}
      volumes:
        {{- include "todo-agent.scratchVolumes" $ | nindent 8 }}
{{- end }}
