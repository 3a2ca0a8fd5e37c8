{{/* Chart name. */}}
{{- define "herald.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name prefix of every object. */}}
{{- define "herald.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of a component's objects. Usage: include "herald.componentName" (dict "ctx" $ "component" "router") */}}
{{- define "herald.componentName" -}}
{{- printf "%s-%s" (include "herald.fullname" .ctx | trunc 50 | trimSuffix "-") .component -}}
{{- end -}}

{{/* Labels of every object; with a component, also the component label. */}}
{{- define "herald.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "herald.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: herald
{{- include "herald.userLabels" .ctx }}
{{- end -}}

{{/*
Labels of a pod template. No chart version: a change here restarts every pod and disconnects every client, so
only what changes with the pod itself goes in (the version is the image tag the pod runs).
*/}}
{{- define "herald.podLabels" -}}
{{ include "herald.selectorLabels" . }}
app.kubernetes.io/version: {{ include "herald.imageTag" . | replace "+" "_" | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: herald
{{- include "herald.userLabels" .ctx }}
{{- end -}}

{{/* global.labels (shared with subcharts), then commonLabels, which win. */}}
{{- define "herald.userLabels" -}}
{{- $labels := merge (deepCopy (.Values.commonLabels | default dict)) (dig "labels" dict (.Values.global | default dict)) -}}
{{- with $labels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels; stable across upgrades. */}}
{{- define "herald.selectorLabels" -}}
app.kubernetes.io/name: {{ include "herald.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end -}}

{{/* Image tag of a component: its own, the chart-wide one, or the appVersion. */}}
{{- define "herald.imageTag" -}}
{{- $own := (index .ctx.Values .component).image | default dict -}}
{{- $own.tag | default .ctx.Values.image.tag | default .ctx.Chart.AppVersion -}}
{{- end -}}

{{/* Image reference of a component; each component pins its own digest (the four images differ). */}}
{{- define "herald.image" -}}
{{- $img := .ctx.Values.image -}}
{{- $own := (index .ctx.Values .component).image | default dict -}}
{{- $repo := $own.repository | default (printf "%s/%s" $img.repository .component) -}}
{{- $registry := $img.registry | default (dig "image" "registry" "" (.ctx.Values.global | default dict)) | default "ghcr.io" -}}
{{- $ref := printf "%s/%s:%s" $registry $repo (include "herald.imageTag" .) -}}
{{- with $own.digest }}{{ $ref = printf "%s@%s" $ref . }}{{ end -}}
{{- $ref -}}
{{- end -}}

{{/* Image pull policy: image.pullPolicy, global.image.pullPolicy, IfNotPresent. */}}
{{- define "herald.pullPolicy" -}}
{{- .Values.image.pullPolicy | default (dig "image" "pullPolicy" "" (.Values.global | default dict)) | default "IfNotPresent" -}}
{{- end -}}

{{/* imagePullSecrets of a pod: image.pullSecrets, then global.image.pullSecretNames. */}}
{{- define "herald.pullSecrets" -}}
{{- $names := concat (.Values.image.pullSecrets | default list) (dig "image" "pullSecretNames" list (.Values.global | default dict)) | uniq -}}
{{- if $names -}}
imagePullSecrets:
{{- range $names }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{/* ServiceAccount name. */}}
{{- define "herald.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "herald.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Name of the Secret with the JWT key: the existing one, or the one the chart creates (development). */}}
{{- define "herald.jwtSecretName" -}}
{{- if .Values.auth.existingSecret -}}
{{- .Values.auth.existingSecret -}}
{{- else if .Values.auth.createSecret -}}
{{- printf "%s-jwt" (include "herald.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* Seconds of terminationGracePeriodSeconds; fails when it cannot cover the preStop sleep plus the drain. */}}
{{- define "herald.terminationGrace" -}}
{{- $s := .Values.shutdown -}}
{{- $needed := add $s.preStopSleepSeconds $s.timeoutSeconds -}}
{{- if gt (int $s.readinessDelaySeconds) (int $s.timeoutSeconds) -}}
{{- fail "shutdown.readinessDelaySeconds must not exceed shutdown.timeoutSeconds" -}}
{{- end -}}
{{- if $s.terminationGracePeriodSeconds -}}
{{- if lt (int $s.terminationGracePeriodSeconds) (int $needed) -}}
{{- fail (printf "shutdown.terminationGracePeriodSeconds (%v) must be at least preStopSleepSeconds + timeoutSeconds (%v)" $s.terminationGracePeriodSeconds $needed) -}}
{{- end -}}
{{- $s.terminationGracePeriodSeconds -}}
{{- else -}}
{{- add $needed 5 -}}
{{- end -}}
{{- end -}}

{{/*
Env entries every service reads, as plain `name`/`value` pairs (or secretKeyRef) so that tests and people can
read them back from the rendered Deployment.
*/}}
{{- define "herald.commonEnv" -}}
{{- $v := .Values -}}
{{- $urls := list -}}
{{- range $v.natsConnection.urls }}{{ $urls = append $urls (tpl . $) }}{{ end -}}
- name: NATS_URL
  value: {{ join "," $urls | quote }}
- name: NATS_PING_INTERVAL
  value: {{ $v.natsConnection.pingInterval | quote }}
- name: NATS_MAX_PINGS_OUT
  value: {{ $v.natsConnection.maxPingsOut | quote }}
- name: HERALD_PREFIX
  value: {{ $v.config.prefix | quote }}
- name: HERALD_REPLICAS
  value: {{ $v.config.streamReplicas | quote }}
- name: HERALD_CHANNEL_RETENTION
  value: {{ $v.config.channelRetention | quote }}
- name: ADMIN_PORT
  value: {{ $v.config.adminPort | quote }}
- name: LOG_LEVEL
  value: {{ $v.config.logLevel | quote }}
- name: SHUTDOWN_DELAY
  value: {{ printf "%ds" (int $v.shutdown.readinessDelaySeconds) | quote }}
- name: SHUTDOWN_TIMEOUT
  value: {{ printf "%ds" (int $v.shutdown.timeoutSeconds) | quote }}
{{- with $v.config.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- $tls := $v.natsConnection.tls }}
{{- if $tls.enabled }}
{{- if not $tls.existingSecret }}{{ fail "natsConnection.tls.existingSecret is required when natsConnection.tls.enabled is true" }}{{ end }}
{{- with $tls.caKey }}
- name: NATS_TLS_CA_FILE
  value: /etc/herald/nats-tls/{{ . }}
{{- end }}
{{- if $tls.certKey }}
- name: NATS_TLS_CERT_FILE
  value: /etc/herald/nats-tls/{{ $tls.certKey }}
- name: NATS_TLS_KEY_FILE
  value: /etc/herald/nats-tls/{{ required "natsConnection.tls.keyKey is required with certKey" $tls.keyKey }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
The Secret holding one component's NATS credentials: `natsConnection.auth.secrets.<component>` (each service its
own NATS identity, docs/security.md), else the shared `existingSecret`. Usage: (dict "ctx" $ "component" "router")
*/}}
{{- define "herald.natsAuthSecret" -}}
{{- $auth := .ctx.Values.natsConnection.auth -}}
{{- (index ($auth.secrets | default dict) .component) | default $auth.existingSecret -}}
{{- end -}}

{{/* Env entries of one component's NATS credentials. Usage: (dict "ctx" $ "component" "router") */}}
{{- define "herald.natsAuthEnv" -}}
{{- $auth := .ctx.Values.natsConnection.auth }}
{{- $secret := include "herald.natsAuthSecret" . }}
{{- if ne $auth.type "none" }}
{{- if not $secret }}{{ fail (printf "natsConnection.auth.existingSecret is required when natsConnection.auth.type is not none (or natsConnection.auth.secrets.%s)" .component) }}{{ end }}
{{- end }}
{{- if eq $auth.type "userPassword" }}
- name: NATS_USER
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $auth.userKey }}
- name: NATS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $auth.passwordKey }}
{{- else if eq $auth.type "token" }}
- name: NATS_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $auth.tokenKey }}
{{- else if eq $auth.type "nkey" }}
- name: NATS_NKEY_SEED_FILE
  value: /etc/herald/nats-auth/{{ $auth.nkeySeedKey }}
{{- else if eq $auth.type "creds" }}
- name: NATS_CREDS_FILE
  value: /etc/herald/nats-auth/{{ $auth.credsKey }}
{{- end }}
{{- end -}}

{{/* Env entries for the JWT verification (connector and the test pod). */}}
{{- define "herald.authEnv" -}}
{{- $secret := include "herald.jwtSecretName" . -}}
{{- if $secret }}
- name: HERALD_JWT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ .Values.auth.secretKey }}
{{- end }}
{{- with .Values.auth.jwksUrl }}
- name: HERALD_JWKS_URL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.auth.issuer }}
- name: HERALD_JWT_ISSUER
  value: {{ . | quote }}
{{- end }}
{{- with .Values.auth.audience }}
- name: HERALD_JWT_AUDIENCE
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* Volumes for NATS credentials files and TLS, plus a writable /tmp. Usage: (dict "ctx" $ "component" "router") */}}
{{- define "herald.volumes" -}}
{{- $ctx := .ctx -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- $auth := $ctx.Values.natsConnection.auth }}
{{- if has $auth.type (list "nkey" "creds") }}
- name: nats-auth
  secret:
    secretName: {{ include "herald.natsAuthSecret" . }}
    defaultMode: 288 # 0440 in octal; written in decimal so every YAML parser reads the same
{{- end }}
{{- if $ctx.Values.natsConnection.tls.enabled }}
- name: nats-tls
  secret:
    secretName: {{ $ctx.Values.natsConnection.tls.existingSecret }}
    defaultMode: 288 # 0440 in octal; written in decimal so every YAML parser reads the same
{{- end }}
{{- end -}}

{{- define "herald.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if has .Values.natsConnection.auth.type (list "nkey" "creds") }}
- name: nats-auth
  mountPath: /etc/herald/nats-auth
  readOnly: true
{{- end }}
{{- if .Values.natsConnection.tls.enabled }}
- name: nats-tls
  mountPath: /etc/herald/nats-tls
  readOnly: true
{{- end }}
{{- end -}}

{{/* Default topology spread: across nodes and zones, soft so that small clusters still schedule. */}}
{{- define "herald.topologySpread" -}}
{{- $c := index .ctx.Values .component -}}
{{- if $c.topologySpreadConstraints -}}
{{ toYaml $c.topologySpreadConstraints }}
{{- else -}}
- maxSkew: 1
  topologyKey: kubernetes.io/hostname
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "herald.selectorLabels" . | nindent 6 }}
  matchLabelKeys:
    - pod-template-hash
- maxSkew: 1
  topologyKey: topology.kubernetes.io/zone
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "herald.selectorLabels" . | nindent 6 }}
  matchLabelKeys:
    - pod-template-hash
{{- end -}}
{{- end -}}
