{{/*
The router's HTTP publish API (router.httpPublish): env, secret volume and mount, container port. Each helper
renders nothing unless the API is enabled, so the workload templates include them unconditionally for the router.
*/}}
{{- define "herald.httpPublish.enabled" -}}
{{- $h := .Values.router.httpPublish -}}
{{- if $h.enabled -}}
{{- if not (or $h.apiKeyHashes (and $h.existingSecret (or $h.apiKeysKey $h.jwtSecretKey))) -}}
{{- fail "router.httpPublish.enabled needs router.httpPublish.apiKeyHashes, or existingSecret with apiKeysKey or jwtSecretKey" -}}
{{- end -}}
{{- if and (or $h.apiKeysKey $h.jwtSecretKey) (not $h.existingSecret) -}}
{{- fail "router.httpPublish.apiKeysKey and jwtSecretKey name keys of router.httpPublish.existingSecret: set it" -}}
{{- end -}}
{{- if eq (int $h.port) (int .Values.config.adminPort) -}}
{{- fail "router.httpPublish.port must differ from config.adminPort" -}}
{{- end -}}
true
{{- end -}}
{{- end -}}

{{- define "herald.httpPublish.env" -}}
{{- $h := .Values.router.httpPublish -}}
{{- if include "herald.httpPublish.enabled" . }}
- name: HERALD_HTTP_PUBLISH_PORT
  value: {{ $h.port | quote }}
{{- with $h.apiKeyHashes }}
- name: HERALD_HTTP_PUBLISH_API_KEY_HASHES
  value: {{ join "," . | quote }}
{{- end }}
{{- with $h.apiKeysKey }}
- name: HERALD_HTTP_PUBLISH_API_KEYS_FILE
  value: {{ printf "/etc/herald/http-publish/%s" . | quote }}
{{- end }}
{{- with $h.jwtSecretKey }}
- name: HERALD_HTTP_PUBLISH_JWT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $h.existingSecret }}
      key: {{ . }}
{{- end }}
{{- range $name, $value := dict "HERALD_HTTP_PUBLISH_JWT_AUDIENCE" $h.jwtAudience "HERALD_HTTP_PUBLISH_RATE" $h.rate "HERALD_HTTP_PUBLISH_BURST" $h.burst }}
{{- if ne (toString $value) "" }}
- name: {{ $name }}
  value: {{ toString $value | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "herald.httpPublish.volumes" -}}
{{- $h := .Values.router.httpPublish -}}
{{- if and (include "herald.httpPublish.enabled" .) $h.apiKeysKey }}
- name: http-publish
  secret:
    secretName: {{ $h.existingSecret }}
    items:
      - key: {{ $h.apiKeysKey }}
        path: {{ $h.apiKeysKey }}
    defaultMode: 288 # 0440 in octal; written in decimal so every YAML parser reads the same
{{- end }}
{{- end -}}

{{- define "herald.httpPublish.volumeMounts" -}}
{{- $h := .Values.router.httpPublish -}}
{{- if and (include "herald.httpPublish.enabled" .) $h.apiKeysKey }}
- name: http-publish
  mountPath: /etc/herald/http-publish
  readOnly: true
{{- end }}
{{- end -}}

{{- define "herald.httpPublish.ports" -}}
{{- if include "herald.httpPublish.enabled" . }}
- name: http-publish
  containerPort: {{ .Values.router.httpPublish.port }}
  protocol: TCP
{{- end }}
{{- end -}}
