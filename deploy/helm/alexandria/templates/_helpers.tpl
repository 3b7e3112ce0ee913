{{/*
Names and labels.
*/}}
{{- define "alexandria.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "alexandria.fullname" -}}
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

{{/* "<fullname>-<suffix>", within the 63 characters of a DNS label. Call with (list $ "suffix"). */}}
{{- define "alexandria.componentName" -}}
{{- $root := index . 0 }}
{{- printf "%s-%s" (include "alexandria.fullname" $root | trunc (int (sub 62 (len (index . 1))))) (index . 1) | trimSuffix "-" }}
{{- end }}

{{- define "alexandria.selectorLabels" -}}
app.kubernetes.io/name: {{ include "alexandria.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "alexandria.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "alexandria.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: alexandria
{{- end }}

{{- define "alexandria.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) }}
{{- end }}

{{- define "alexandria.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "alexandria.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "alexandria.configMapName" -}}
{{- include "alexandria.componentName" (list . "config") }}
{{- end }}

{{/* The Secret the services load with envFrom: yours (secret.existingSecret) or the chart's. */}}
{{- define "alexandria.secretName" -}}
{{- if .Values.secret.existingSecret }}
{{- .Values.secret.existingSecret }}
{{- else }}
{{- include "alexandria.componentName" (list . "secrets") }}
{{- end }}
{{- end }}

{{/* Where the Kafka cluster CA certificate is mounted when kafka.tls.caSecret.name is set. */}}
{{- define "alexandria.kafkaCaDir" -}}/etc/alexandria/kafka-ca{{- end }}

{{/*
A number from values as the services parse it: Helm reads every YAML number as a float, and
a float prints 1000000 as "1e+06", which an integer setting rejects.
*/}}
{{- define "alexandria.scalar" -}}
{{- if and (kindIs "float64" .) (eq . (floor .)) }}
{{- int64 . }}
{{- else }}
{{- toString . }}
{{- end }}
{{- end }}

{{/*
Non-secret settings: the ConfigMap's data, ALEXANDRIA_<SETTING> (shared/settings.py). Empty
values are left out so the service's own default (often "off") applies.
*/}}
{{- define "alexandria.configData" -}}
{{- $v := .Values }}
{{- $p := $v.providers }}
{{- $c := dict
  "KAFKA_BOOTSTRAP_SERVERS" $v.kafka.bootstrapServers
  "KAFKA_SECURITY_PROTOCOL" $v.kafka.securityProtocol
  "KAFKA_SASL_MECHANISM" $v.kafka.sasl.mechanism
  "KAFKA_SASL_USERNAME" $v.kafka.sasl.username
  "TOPIC_PREFIX" $v.topics.prefix
  "TOPIC_PARTITIONS" $v.topics.partitions
  "TOPIC_REPLICATION_FACTOR" $v.topics.replicationFactor
  "DATABASE_SCHEMA" $v.database.schema
  "ISBNDB_BASE_URL" $p.isbndb.baseUrl
  "ISBNDB_DAILY_QUOTA" $p.isbndb.dailyQuota
  "GOOGLE_BOOKS_BASE_URL" $p.googleBooks.baseUrl
  "OPENLIBRARY_BASE_URL" $p.openlibrary.baseUrl
  "ARCHIVE_BASE_URL" $p.archive.baseUrl
  "WIKIDATA_BASE_URL" $p.wikidata.baseUrl
  "GEMINI_BASE_URL" $p.gemini.baseUrl
  "GEMINI_MODEL" $p.gemini.model
  "XAI_BASE_URL" $p.xai.baseUrl
  "XAI_MODEL" $p.xai.model
  "OPENAI_COMPAT_BASE_URL" $p.openaiCompat.baseUrl
  "OPENAI_COMPAT_MODEL" $p.openaiCompat.model
  "ISBNDB_RATE_PER_S" $p.isbndb.ratePerS
  "GOOGLE_BOOKS_RATE_PER_S" $p.googleBooks.ratePerS
  "OPENLIBRARY_RATE_PER_S" $p.openlibrary.ratePerS
  "ARCHIVE_RATE_PER_S" $p.archive.ratePerS
  "WIKIDATA_RATE_PER_S" $p.wikidata.ratePerS
  "GEMINI_RATE_PER_S" $p.gemini.ratePerS
  "XAI_RATE_PER_S" $p.xai.ratePerS
  "OPENAI_COMPAT_RATE_PER_S" $p.openaiCompat.ratePerS
  "CONTACT_EMAIL" $p.contactEmail
  "HTTP_TIMEOUT_S" $v.http.timeoutS
  "LLM_TIMEOUT_S" $v.http.llmTimeoutS
  "HTTP_MAX_RETRIES" $v.http.maxRetries
  "HTTP_RETRY_DEADLINE_S" $v.http.retryDeadlineS
  "HTTP_OUTAGE_PATIENCE_S" $v.http.outagePatienceS
  "HTTP_MAX_CONCURRENCY" $v.http.maxConcurrency
  "SCHEDULER_INTERVAL_S" $v.pipeline.schedulerIntervalS
  "SCHEDULER_MONTHS_PER_TICK" $v.pipeline.schedulerMonthsPerTick
  "SCHEDULER_MAX_ATTEMPTS" $v.pipeline.schedulerMaxAttempts
  "SCHEDULER_STUCK_AFTER_S" $v.pipeline.schedulerStuckAfterS
  "LLM_BATCH_SIZE" $v.pipeline.llmBatchSize
  "OTLP_ENDPOINT" $v.telemetry.otlpEndpoint
  "LOG_LEVEL" $v.telemetry.logLevel
  "METRICS_PORT" $v.metrics.port
  "METRICS_HOST" "0.0.0.0"
}}
{{- if $v.kafka.tls.caSecret.name }}
{{- $_ := set $c "KAFKA_SSL_CAFILE" (printf "%s/%s" (include "alexandria.kafkaCaDir" .) $v.kafka.tls.caSecret.key) }}
{{- end }}
{{- range $name, $value := $v.extraConfig }}
{{- $upper := upper $name | trimPrefix "ALEXANDRIA_" }}
{{- if regexMatch "(API_KEY|PASSWORD|DATABASE_URL)$" $upper }}
{{- fail (printf "extraConfig.%s is a secret: put it in the Secret (secret.* or secret.existingSecret), not the ConfigMap" $name) }}
{{- end }}
{{- if eq $upper "INSTANCE_ID" }}
{{- fail "extraConfig.INSTANCE_ID would give every replica the same Kafka transactional id (they would fence each other); leave it unset: each pod uses its own name" }}
{{- end }}
{{- $_ := set $c $upper $value }}
{{- end }}
{{- range $name := keys $c | sortAlpha }}
{{- $value := get $c $name }}
{{- if and (not (kindIs "invalid" $value)) (ne (toString $value) "") }}
{{ printf "ALEXANDRIA_%s" $name }}: {{ include "alexandria.scalar" $value | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* Secret settings: the chart-managed Secret's data, base64; empty values left out. */}}
{{- define "alexandria.secretData" -}}
{{- $s := .Values.secret }}
{{- $d := dict
  "DATABASE_URL" $s.databaseUrl
  "KAFKA_SASL_PASSWORD" $s.kafkaSaslPassword
  "ISBNDB_API_KEY" $s.apiKeys.isbndb
  "GOOGLE_BOOKS_API_KEY" $s.apiKeys.googleBooks
  "GEMINI_API_KEY" $s.apiKeys.gemini
  "XAI_API_KEY" $s.apiKeys.xai
  "OPENAI_COMPAT_API_KEY" $s.apiKeys.openaiCompat
}}
{{- range $name := keys $d | sortAlpha }}
{{- $value := get $d $name | default "" | toString }}
{{- if $value }}
{{ printf "ALEXANDRIA_%s" $name }}: {{ b64enc $value | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* Stops the render when nothing says where the database is. */}}
{{- define "alexandria.validate" -}}
{{- if not (or .Values.secret.existingSecret .Values.secret.databaseUrl .Values.database.urlSecret.name) }}
{{- fail "no database URL: set database.urlSecret.name (e.g. CloudNativePG's <cluster>-app Secret), secret.databaseUrl, or secret.existingSecret holding ALEXANDRIA_DATABASE_URL" }}
{{- end }}
{{- end }}

{{/*
One container: image, env (ConfigMap and Secret via envFrom; Secrets owned by operators such
as CloudNativePG or Strimzi via secretKeyRef, which wins over envFrom), secure defaults, /tmp.
Call with (dict "root" $ "name" "..." "command" (list ...) "configMap" "..." "secret" "..."
"resources" {...} "metrics" true|false).
*/}}
{{- define "alexandria.container" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
- name: {{ .name }}
  image: {{ include "alexandria.image" $root | quote }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  command:
    {{- toYaml .command | nindent 4 }}
  envFrom:
    - configMapRef:
        name: {{ .configMap }}
    - secretRef:
        name: {{ .secret }}
  {{- if or $v.database.urlSecret.name $v.kafka.sasl.passwordSecret.name }}
  env:
    {{- with $v.database.urlSecret }}
    {{- if .name }}
    - name: ALEXANDRIA_DATABASE_URL
      valueFrom:
        secretKeyRef:
          name: {{ .name }}
          key: {{ .key }}
    {{- end }}
    {{- end }}
    {{- with $v.kafka.sasl.passwordSecret }}
    {{- if .name }}
    - name: ALEXANDRIA_KAFKA_SASL_PASSWORD
      valueFrom:
        secretKeyRef:
          name: {{ .name }}
          key: {{ .key }}
    {{- end }}
    {{- end }}
  {{- end }}
  {{- if .metrics }}
  ports:
    - name: metrics
      containerPort: {{ $v.metrics.port }}
      protocol: TCP
  livenessProbe:
    httpGet:
      path: /metrics
      port: metrics
    {{- toYaml $v.probes.liveness | nindent 4 }}
  readinessProbe:
    httpGet:
      path: /metrics
      port: metrics
    {{- toYaml $v.probes.readiness | nindent 4 }}
  {{- end }}
  resources:
    {{- toYaml .resources | nindent 4 }}
  securityContext:
    {{- toYaml $v.securityContext | nindent 4 }}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
    {{- if $v.kafka.tls.caSecret.name }}
    - name: kafka-ca
      mountPath: {{ include "alexandria.kafkaCaDir" $root }}
      readOnly: true
    {{- end }}
{{- end }}

{{/* Pod-level fields shared by the Deployments and the migration Job. */}}
{{- define "alexandria.podCommon" -}}
{{- $v := .Values }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml $v.podSecurityContext | nindent 2 }}
{{- with $v.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: {{ $v.tmpSizeLimit }}
  {{- if $v.kafka.tls.caSecret.name }}
  - name: kafka-ca
    secret:
      secretName: {{ $v.kafka.tls.caSecret.name }}
      items:
        - key: {{ $v.kafka.tls.caSecret.key }}
          path: {{ $v.kafka.tls.caSecret.key }}
  {{- end }}
{{- end }}

{{/*
Everything for one service: its Deployment, its metrics Service and, if enabled, its
PodDisruptionBudget. Call with (dict "root" $ "name" "<service>").
*/}}
{{- define "alexandria.service" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
{{- $name := .name }}
{{- $svc := index $v.services $name }}
{{- if $svc.enabled }}
{{- include "alexandria.validate" $root }}
{{- $fullname := include "alexandria.componentName" (list $root $name) }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "alexandria.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
spec:
  replicas: {{ int $svc.replicas }}
  revisionHistoryLimit: {{ $v.revisionHistoryLimit }}
  selector:
    matchLabels:
      {{- include "alexandria.selectorLabels" $root | nindent 6 }}
      app.kubernetes.io/component: {{ $name }}
  template:
    metadata:
      labels:
        {{- include "alexandria.labels" $root | nindent 8 }}
        app.kubernetes.io/component: {{ $name }}
      annotations:
        # A changed setting or key rolls the pods.
        checksum/config: {{ include "alexandria.configData" $root | sha256sum }}
        {{- if not $v.secret.existingSecret }}
        checksum/secret: {{ include "alexandria.secretData" $root | sha256sum }}
        {{- end }}
        {{- with $v.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "alexandria.serviceAccountName" $root }}
      terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
      {{- include "alexandria.podCommon" $root | trim | nindent 6 }}
      containers:
        {{- include "alexandria.container" (dict
              "root" $root
              "name" $name
              "command" (list "python" "-m" (printf "services.%s" $name))
              "configMap" (include "alexandria.configMapName" $root)
              "secret" (include "alexandria.secretName" $root)
              "resources" ($svc.resources | default $v.resources)
              "metrics" true) | trim | nindent 8 }}
{{- if $v.metrics.service.enabled }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "alexandria.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
  annotations:
    # For a Prometheus that discovers scrape targets from Service annotations.
    prometheus.io/scrape: "true"
    prometheus.io/port: {{ $v.metrics.port | quote }}
    prometheus.io/path: /metrics
spec:
  type: ClusterIP
  selector:
    {{- include "alexandria.selectorLabels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
  ports:
    - name: metrics
      port: {{ $v.metrics.port }}
      targetPort: metrics
      protocol: TCP
{{- end }}
{{- if $v.podDisruptionBudget.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "alexandria.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
spec:
  maxUnavailable: {{ $v.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "alexandria.selectorLabels" $root | nindent 6 }}
      app.kubernetes.io/component: {{ $name }}
{{- end }}
{{- end }}
{{- end }}
