{{/*
The Deployment of one component. Usage:
  include "herald.deployment" (dict "ctx" $ "component" "router" "env" (dict "ROUTER_PREFETCH" "...")))
Entries of `env` with an empty value are left out, so the service's own default applies.
*/}}
{{- define "herald.deployment" -}}
{{- $ctx := .ctx -}}
{{- $v := $ctx.Values -}}
{{- $c := index $v .component -}}
{{- $isConnector := eq .component "connector" -}}
{{- $envBlock := include "herald.componentEnv" . -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "herald.componentName" . }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "herald.labels" . | nindent 4 }}
spec:
  {{- if not (and $c.autoscaling $c.autoscaling.enabled) }}
  replicas: {{ $c.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate:
      # Surge first: a replica leaves only once its replacement is ready.
      maxSurge: 1
      maxUnavailable: 0
  selector:
    matchLabels:
      {{- include "herald.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      annotations:
        # Rolls the pods when the effective configuration changes, including a Secret the chart creates.
        checksum/config: {{ printf "%s\n%s" $envBlock (include "herald.jwtSecretData" $ctx) | sha256sum }}
        {{- with $c.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      labels:
        {{- include "herald.podLabels" . | nindent 8 }}
        {{- with $c.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "herald.serviceAccountName" $ctx }}
      # Herald never calls the Kubernetes API.
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ include "herald.terminationGrace" $ctx }}
      {{- with include "herald.pullSecrets" $ctx }}
      {{- . | nindent 6 }}
      {{- end }}
      {{- with $c.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      securityContext:
        {{- toYaml $v.podSecurityContext | nindent 8 }}
      topologySpreadConstraints:
        {{- include "herald.topologySpread" . | nindent 8 }}
      {{- with $c.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.initContainers }}
      initContainers:
        {{- tpl (toYaml .) $ctx | nindent 8 }}
      {{- end }}
      containers:
        # The service's container comes first; sidecars follow.
        - name: {{ .component }}
          image: {{ include "herald.image" . | quote }}
          imagePullPolicy: {{ include "herald.pullPolicy" $ctx }}
          securityContext:
            {{- toYaml $v.securityContext | nindent 12 }}
          {{- with $c.envFrom }}
          envFrom:
            {{- tpl (toYaml .) $ctx | nindent 12 }}
          {{- end }}
          env:
            {{- $envBlock | nindent 12 }}
          ports:
            {{- if $isConnector }}
            - name: ws
              containerPort: {{ $c.port }}
              protocol: TCP
            {{- end }}
            - name: admin
              containerPort: {{ $v.config.adminPort }}
              protocol: TCP
            {{- if eq .component "router" }}
            {{- with include "herald.httpPublish.ports" $ctx | trim }}{{ . | nindent 12 }}{{ end }}
            {{- end }}
          {{- $probes := $c.probes | default dict }}
          startupProbe:
            {{- include "herald.probe" (dict "path" "/healthz" "global" $v.probes.startup "own" $probes.startup) | nindent 12 }}
          readinessProbe:
            {{- include "herald.probe" (dict "path" "/readyz" "global" $v.probes.readiness "own" $probes.readiness) | nindent 12 }}
          livenessProbe:
            {{- include "herald.probe" (dict "path" "/healthz" "global" $v.probes.liveness "own" $probes.liveness) | nindent 12 }}
          {{- if gt (int $v.shutdown.preStopSleepSeconds) 0 }}
          lifecycle:
            preStop:
              # Gives kube-proxy and ingress controllers time to stop routing here before SIGTERM.
              exec:
                command: ["sleep", "{{ $v.shutdown.preStopSleepSeconds }}"]
          {{- end }}
          resources:
            {{- toYaml $c.resources | nindent 12 }}
          volumeMounts:
            {{- include "herald.volumeMounts" $ctx | nindent 12 }}
            {{- if eq .component "router" }}
            {{- with include "herald.httpPublish.volumeMounts" $ctx | trim }}{{ . | nindent 12 }}{{ end }}
            {{- end }}
            {{- with $c.extraVolumeMounts }}
            {{- tpl (toYaml .) $ctx | nindent 12 }}
            {{- end }}
        {{- with $c.sidecars }}
        {{- tpl (toYaml .) $ctx | nindent 8 }}
        {{- end }}
      volumes:
        {{- include "herald.volumes" . | nindent 8 }}
        {{- if eq .component "router" }}
        {{- with include "herald.httpPublish.volumes" $ctx | trim }}{{ . | nindent 8 }}{{ end }}
        {{- end }}
        {{- with $c.extraVolumes }}
        {{- tpl (toYaml .) $ctx | nindent 8 }}
        {{- end }}
{{- end -}}

{{/*
A probe on the admin port: the chart's httpGet handler, then the `probes.<kind>` values, then the component's
own. A level that sets a handler (exec, httpGet, tcpSocket, grpc) replaces the handler before it.
*/}}
{{- define "herald.probe" -}}
{{- $probe := dict "httpGet" (dict "path" .path "port" "admin") -}}
{{- $handlers := list "exec" "httpGet" "tcpSocket" "grpc" -}}
{{- range $level := list (.global | default dict) (.own | default dict) -}}
{{- range $h := $handlers -}}
{{- if hasKey $level $h -}}
{{- range $handlers }}{{ $_ := unset $probe . }}{{ end -}}
{{- end -}}
{{- end -}}
{{- $probe = mergeOverwrite $probe (deepCopy $level) -}}
{{- end -}}
{{- toYaml $probe -}}
{{- end -}}

{{/* All env entries of a component, in a stable order: shared, component settings, extraEnv. */}}
{{- define "herald.componentEnv" -}}
{{- $ctx := .ctx -}}
{{- $c := index $ctx.Values .component -}}
{{ include "herald.commonEnv" $ctx }}
{{- include "herald.natsAuthEnv" . }}
{{- if eq .component "connector" }}
- name: PORT
  value: {{ $c.port | quote }}
{{- include "herald.authEnv" $ctx }}
{{- end }}
{{- if eq .component "router" }}
{{- include "herald.httpPublish.env" $ctx }}
{{- end }}
{{- range $name := keys .env | sortAlpha }}
{{- $value := index $.env $name }}
{{- /* YAML numbers arrive as floats; print whole ones without an exponent. */}}
{{- if and (kindIs "float64" $value) (eq (float64 (int64 $value)) $value) }}{{ $value = int64 $value }}{{ end }}
{{- if ne (toString $value) "" }}
- name: {{ $name }}
  value: {{ toString $value | quote }}
{{- end }}
{{- end }}
{{- with $c.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Content of the chart-created JWT Secret (development only), for the checksum. */}}
{{- define "herald.jwtSecretData" -}}
{{- if and .Values.auth.createSecret (not .Values.auth.existingSecret) -}}
{{ .Values.auth.createSecret }}
{{- end -}}
{{- end -}}
