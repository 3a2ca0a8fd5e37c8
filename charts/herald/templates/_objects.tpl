{{/*
Internal Service of a component's admin port (`/healthz`, `/readyz`, `/metrics`): ClusterIP, never public. For
the connector it is `<fullname>-connector-admin`, beside the public WebSocket Service.
*/}}
{{- define "herald.adminService" -}}
{{- $ctx := .ctx -}}
{{- $isConnector := eq .component "connector" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "herald.componentName" . }}{{ if $isConnector }}-admin{{ end }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "herald.labels" . | nindent 4 }}
  {{- if $isConnector }}
  {{- with $ctx.Values.connector.adminService.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- end }}
spec:
  type: ClusterIP
  selector:
    {{- include "herald.selectorLabels" . | nindent 4 }}
  ports:
    - name: admin
      port: {{ $ctx.Values.config.adminPort }}
      targetPort: admin
      protocol: TCP
{{- end -}}

{{/* The connector's public Service: the WebSocket port only. */}}
{{- define "herald.publicService" -}}
{{- $ctx := .ctx -}}
{{- $svc := $ctx.Values.connector.service -}}
{{- $lb := eq $svc.type "LoadBalancer" -}}
{{- if and (not $lb) (or $svc.loadBalancerSourceRanges $svc.loadBalancerClass) -}}
{{- fail "connector.service.loadBalancerSourceRanges and loadBalancerClass need connector.service.type LoadBalancer" -}}
{{- end -}}
{{- if and (eq $svc.type "ClusterIP") $svc.externalTrafficPolicy -}}
{{- fail "connector.service.externalTrafficPolicy needs connector.service.type NodePort or LoadBalancer" -}}
{{- end -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "herald.componentName" . }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "herald.labels" . | nindent 4 }}
  {{- with $svc.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ $svc.type }}
  {{- with $svc.externalTrafficPolicy }}
  externalTrafficPolicy: {{ . }}
  {{- end }}
  {{- if $lb }}
  {{- with $svc.loadBalancerClass }}
  loadBalancerClass: {{ . }}
  {{- end }}
  {{- with $svc.loadBalancerSourceRanges }}
  loadBalancerSourceRanges:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- end }}
  selector:
    {{- include "herald.selectorLabels" . | nindent 4 }}
  ports:
    - name: ws
      port: {{ $svc.port }}
      targetPort: ws
      protocol: TCP
{{- end -}}

{{/* HorizontalPodAutoscaler of a component (CPU; the connector can add its connection count). */}}
{{- define "herald.hpa" -}}
{{- $ctx := .ctx -}}
{{- $a := (index $ctx.Values .component).autoscaling | default dict -}}
{{- if $a.enabled -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "herald.componentName" . }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "herald.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "herald.componentName" . }}
  minReplicas: {{ $a.minReplicas }}
  maxReplicas: {{ $a.maxReplicas }}
  metrics:
    {{- if $a.targetCPUUtilizationPercentage }}
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $a.targetCPUUtilizationPercentage }}
    {{- end }}
    {{- if and $a.connections $a.connections.enabled }}
    # Served by a custom metrics adapter (e.g. prometheus-adapter) from the gauge herald_connector_connections.
    - type: Pods
      pods:
        metric:
          name: herald_connector_connections
        target:
          type: AverageValue
          averageValue: {{ $a.connections.averageValue | quote }}
    {{- end }}
  behavior:
    scaleDown:
      # Scaling a connector down disconnects its clients (they reconnect elsewhere): do it slowly.
      stabilizationWindowSeconds: 300
      policies:
        - type: Pods
          value: 1
          periodSeconds: 60
{{- end -}}
{{- end -}}

{{/* PodDisruptionBudget of a component. */}}
{{- define "herald.pdb" -}}
{{- $ctx := .ctx -}}
{{- $p := (index $ctx.Values .component).pdb -}}
{{- if $p.enabled -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "herald.componentName" . }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "herald.labels" . | nindent 4 }}
spec:
  {{- if ne (toString $p.minAvailable) "" }}
  minAvailable: {{ $p.minAvailable }}
  {{- else }}
  maxUnavailable: {{ $p.maxUnavailable }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "herald.selectorLabels" . | nindent 6 }}
{{- end -}}
{{- end -}}

{{/*
NetworkPolicy of a component. Ingress: the admin port from the monitoring namespace; for the connector, the
WebSocket port from `ingressFrom` (or from anywhere with allowExternal) and from this release's `helm test` pod.
Egress: NATS and DNS; for the connector with a JWKS URL, that URL's port; plus extraEgress.
*/}}
{{- define "herald.networkPolicy" -}}
{{- $ctx := .ctx -}}
{{- $np := $ctx.Values.networkPolicy -}}
{{- $c := $ctx.Values.connector -}}
{{- $isConnector := eq .component "connector" -}}
{{- if $np.enabled -}}
{{- if and $isConnector (or $c.ingress.enabled $c.httpRoute.enabled) (not $np.ingressFrom) (not $np.allowExternal) -}}
{{- fail "networkPolicy.enabled with an Ingress or HTTPRoute: set networkPolicy.ingressFrom to your ingress controller's or gateway's proxy pods (docs/helm.md lists common ones), or networkPolicy.allowExternal=true; otherwise every client is blocked" -}}
{{- end -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "herald.componentName" . }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "herald.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "herald.selectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
    - Egress
  ingress:
    - from:
        - namespaceSelector:
            {{- toYaml $np.monitoring.namespaceSelector | nindent 12 }}
          podSelector:
            {{- toYaml $np.monitoring.podSelector | nindent 12 }}
      ports:
        - port: admin
          protocol: TCP
    {{- if $isConnector }}
    - ports:
        - port: ws
          protocol: TCP
      {{- if not $np.allowExternal }}
      from:
        {{- with $np.ingressFrom }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        - podSelector:
            matchLabels:
              {{- include "herald.selectorLabels" (dict "ctx" $ctx "component" "test") | nindent 14 }}
      {{- end }}
    {{- end }}
    {{- if and (eq .component "router") (include "herald.httpPublish.enabled" $ctx) }}
    - ports:
        - port: http-publish
          protocol: TCP
      {{- with $ctx.Values.router.httpPublish.from }}
      from:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- end }}
  egress:
    - to:
        - podSelector:
            {{- toYaml $np.nats.podSelector | nindent 12 }}
          {{- with $np.nats.namespaceSelector }}
          namespaceSelector:
            {{- toYaml . | nindent 12 }}
          {{- end }}
      ports:
        {{- range $np.nats.ports }}
        - port: {{ . }}
          protocol: TCP
        {{- end }}
    - to:
        - namespaceSelector:
            {{- toYaml $np.dns.namespaceSelector | nindent 12 }}
          podSelector:
            {{- toYaml $np.dns.podSelector | nindent 12 }}
      ports:
        {{- range $np.dns.ports }}
        - port: {{ . }}
          protocol: UDP
        - port: {{ . }}
          protocol: TCP
        {{- end }}
    {{- if and $isConnector $ctx.Values.auth.jwksUrl }}
    {{- $url := urlParse $ctx.Values.auth.jwksUrl }}
    {{- $port := regexFind ":[0-9]+$" $url.host | trimPrefix ":" | default (ternary "443" "80" (eq $url.scheme "https")) }}
    # The JWKS URL ({{ $url.host }}): without it every login fails.
    - ports:
        - port: {{ $port }}
          protocol: TCP
      {{- with $np.jwks.to }}
      to:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- end }}
    {{- with $np.extraEgress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}
{{- end -}}

{{/* ServiceMonitor of a component (admin port, /metrics). */}}
{{- define "herald.serviceMonitor" -}}
{{- $ctx := .ctx -}}
{{- $sm := $ctx.Values.metrics.serviceMonitor -}}
{{- if $sm.enabled -}}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "herald.componentName" . }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "herald.labels" . | nindent 4 }}
    {{- with $sm.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "herald.selectorLabels" . | nindent 6 }}
  namespaceSelector:
    matchNames:
      - {{ $ctx.Release.Namespace }}
  endpoints:
    # Only the admin Service has this port: the connector's public Service is never scraped.
    - port: admin
      path: /metrics
      interval: {{ $sm.interval }}
      scrapeTimeout: {{ $sm.scrapeTimeout }}
      {{- if or (eq .component "connector") $sm.relabelings }}
      relabelings:
        {{- if eq .component "connector" }}
        # The job keeps the component's name (not the admin Service's), as the alerts and dashboard expect.
        - targetLabel: job
          replacement: {{ include "herald.componentName" . }}
        {{- end }}
        {{- with $sm.relabelings }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
      {{- with $sm.metricRelabelings }}
      metricRelabelings:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end -}}
{{- end -}}
