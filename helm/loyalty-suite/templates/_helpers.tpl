{{/* A service's values: serviceDefaults overlaid with its own entry. */}}
{{- define "loyalty.service" -}}
{{- $merged := mergeOverwrite (deepCopy .root.Values.serviceDefaults) (deepCopy .values) -}}
{{- toYaml $merged -}}
{{- end -}}

{{- define "loyalty.name" -}}
{{- printf "%s-%s" .root.Release.Name .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "loyalty.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "loyalty.labels" -}}
{{ include "loyalty.selectorLabels" . }}
app.kubernetes.io/part-of: loyalty-suite
app.kubernetes.io/component: grpc-service
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/* Migration Jobs carry their own name, so no Service, PDB or policy of the service selects them. */}}
{{- define "loyalty.migrationLabels" -}}
app.kubernetes.io/name: {{ .name }}-migrate
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/part-of: loyalty-suite
app.kubernetes.io/component: migration
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end -}}

{{/* registry/repository:tag — a service's own `image` overrides the global registry and tag. */}}
{{- define "loyalty.image" -}}
{{- $g := .root.Values.global.image -}}
{{- $own := default dict .svc.image -}}
{{- $repository := default (printf "%s/%s" $g.registry .svc.binary) $own.repository -}}
{{- printf "%s:%s" $repository (default (default .root.Chart.AppVersion $g.tag) $own.tag) -}}
{{- end -}}

{{/* Environment shared by the Deployment and the migration Job. */}}
{{- define "loyalty.env" -}}
{{- $g := .root.Values.global -}}
{{- $prefix := printf "LOYALTY_%s__" (upper .name) -}}
- name: {{ $prefix }}DATABASE__URL
  valueFrom:
    secretKeyRef:
      name: {{ .svc.database.secretName }}
      key: {{ .svc.database.secretKey }}
- name: {{ $prefix }}DATABASE__SCHEMA
  value: {{ .svc.schema | quote }}
- name: LOYALTY__AUTH__JWKS_FILE
  value: /etc/loyalty-auth/{{ $g.auth.jwks.key }}
- name: LOYALTY__AUTH__ISSUER
  value: {{ $g.auth.issuer | quote }}
- name: LOYALTY__AUTH__AUDIENCE
  value: {{ $g.auth.audience | quote }}
- name: LOYALTY__IDENTITY__TOKEN_FILE
  value: /etc/loyalty-identity/{{ $g.identity.secretKey }}
- name: LOYALTY__DATABASE__TLS_MODE
  value: {{ $g.tls.database.mode | quote }}
{{- if ne $g.tls.database.mode "disable" }}
- name: LOYALTY__DATABASE__CA_FILE
  value: /etc/loyalty-db-ca/{{ $g.tls.database.caKey }}
{{- end }}
{{- if $g.tls.grpc.enabled }}
- name: LOYALTY__SERVER__TLS_CERT_FILE
  value: /etc/loyalty-tls/tls.crt
- name: LOYALTY__SERVER__TLS_KEY_FILE
  value: /etc/loyalty-tls/tls.key
- name: LOYALTY__SERVER__HEALTH_LISTEN
  value: "0.0.0.0:{{ $g.tls.grpc.healthPort }}"
- name: LOYALTY__PEERS__TLS_CA_FILE
  value: /etc/loyalty-tls/ca.crt
{{- end }}
- name: LOYALTY__SERVER__LISTEN
  value: "0.0.0.0:{{ $g.grpcPort }}"
- name: LOYALTY__SERVER__METRICS_LISTEN
  value: "0.0.0.0:{{ $g.metricsPort }}"
- name: LOYALTY__SERVER__DRAIN_TIMEOUT_MS
  value: {{ mul $g.drainSeconds 1000 | quote }}
- name: LOYALTY__TELEMETRY__LOG_FORMAT
  value: {{ $g.telemetry.logFormat | quote }}
- name: LOYALTY__TELEMETRY__LOG_FILTER
  value: {{ $g.telemetry.logFilter | quote }}
- name: LOYALTY__TELEMETRY__OTLP_ENDPOINT
  value: {{ $g.telemetry.otlpEndpoint | quote }}
{{- $root := .root }}
{{- range $peer, $peerValues := .root.Values.services }}
{{- if (include "loyalty.service" (dict "root" $root "values" $peerValues) | fromYaml).enabled }}
- name: LOYALTY__PEERS__{{ upper $peer }}
  value: "{{ if $g.tls.grpc.enabled }}https{{ else }}http{{ end }}://{{ include "loyalty.name" (dict "root" $root "name" $peer) }}:{{ $g.grpcPort }}"
{{- end }}
{{- end }}
{{- range $key, $value := .svc.env }}
- name: {{ $key }}
  value: {{ $value | quote }}
{{- end }}
{{- range .svc.secretEnv }}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .secretKey }}
{{- end }}
{{- end -}}

{{/* The service's settings as TOML: top-level maps become sections; values are JSON literals,
     which TOML reads for strings, numbers and booleans. */}}
{{- define "loyalty.toml" -}}
{{- range $key, $value := . }}
{{- if not (kindIs "map" $value) }}
{{ $key }} = {{ toJson $value }}
{{- end }}
{{- end }}
{{- range $section, $values := . }}
{{- if kindIs "map" $values }}
[{{ $section }}]
{{- range $key, $value := $values }}
{{ $key }} = {{ toJson $value }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "loyalty.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "loyalty.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* The files the env above names: the JWKS, the service's identity, TLS material. */}}
{{- define "loyalty.secretMounts" -}}
{{- $g := .root.Values.global -}}
- name: jwks
  mountPath: /etc/loyalty-auth
  readOnly: true
- name: identity
  mountPath: /etc/loyalty-identity
  readOnly: true
{{- if $g.tls.grpc.enabled }}
- name: grpc-tls
  mountPath: /etc/loyalty-tls
  readOnly: true
{{- end }}
{{- if ne $g.tls.database.mode "disable" }}
- name: db-ca
  mountPath: /etc/loyalty-db-ca
  readOnly: true
{{- end }}
{{- end -}}

{{- define "loyalty.secretVolumes" -}}
{{- $g := .root.Values.global -}}
- name: jwks
  configMap:
    name: {{ $g.auth.jwks.configMap }}
- name: identity
  secret:
    secretName: {{ include "loyalty.name" . }}-identity
{{- if $g.tls.grpc.enabled }}
- name: grpc-tls
  secret:
    secretName: {{ $g.tls.grpc.secretName }}
{{- end }}
{{- if ne $g.tls.database.mode "disable" }}
- name: db-ca
  configMap:
    name: {{ $g.tls.database.caConfigMap }}
{{- end }}
{{- end -}}
