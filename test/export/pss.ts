// The restricted Pod Security Standard (Kubernetes docs, "Pod Security Standards", baseline and
// restricted profiles), field by field, plus mcp-lok's own sandbox rules; used by the tests.
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';

const RESTRICTED_VOLUME_KINDS = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];
const SAFE_SYSCTLS = ['kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.ip_unprivileged_port_start', 'net.ipv4.tcp_syncookies', 'net.ipv4.ping_group_range', 'net.ipv4.ip_local_reserved_ports', 'net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout', 'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes'];

/** Returns each rule of the restricted Pod Security Standard a pod spec breaks (empty: it passes). */
export function findRestrictedViolations(pod: IPodSpec): string[] {
  const out: string[] = [];
  const podSc = pod.securityContext ?? {};
  // Baseline.
  if (pod.hostNetwork || pod.hostPID || pod.hostIPC) out.push('host namespaces');
  if (pod.hostUsers === true) out.push('hostUsers');
  for (const sysctl of podSc.sysctls ?? []) if (!SAFE_SYSCTLS.includes(sysctl.name)) out.push(`sysctl ${sysctl.name}`);
  if (podSc.seLinuxOptions?.user || podSc.seLinuxOptions?.role) out.push('pod seLinux user/role');
  if (podSc.appArmorProfile && !['RuntimeDefault', 'Localhost'].includes(podSc.appArmorProfile.type)) out.push('pod appArmor');
  const containers = [...(pod.initContainers ?? []), ...pod.containers, ...(pod.ephemeralContainers ?? [])];
  for (const c of containers) {
    const sc = c.securityContext ?? {};
    const at = `container ${c.name}`;
    if (sc.privileged) out.push(`${at}: privileged`);
    for (const cap of sc.capabilities?.add ?? []) if (cap !== 'NET_BIND_SERVICE') out.push(`${at}: adds ${cap}`);
    for (const p of c.ports ?? []) if (p.hostPort) out.push(`${at}: hostPort`);
    if (sc.procMount !== undefined && sc.procMount !== 'Default') out.push(`${at}: procMount`);
    if (sc.seLinuxOptions?.user || sc.seLinuxOptions?.role) out.push(`${at}: seLinux user/role`);
    if (sc.appArmorProfile && !['RuntimeDefault', 'Localhost'].includes(sc.appArmorProfile.type)) out.push(`${at}: appArmor`);
    if (sc.windowsOptions?.hostProcess) out.push(`${at}: hostProcess`);
    // Restricted.
    if (sc.allowPrivilegeEscalation !== false) out.push(`${at}: allowPrivilegeEscalation must be false`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) out.push(`${at}: capabilities must drop ALL`);
    const nonRoot = sc.runAsNonRoot ?? podSc.runAsNonRoot;
    if (nonRoot !== true) out.push(`${at}: runAsNonRoot must be true`);
    if ((sc.runAsUser ?? podSc.runAsUser) === 0) out.push(`${at}: runAsUser 0`);
    const seccomp = sc.seccompProfile?.type ?? podSc.seccompProfile?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') out.push(`${at}: seccompProfile must be RuntimeDefault or Localhost`);
  }
  for (const v of pod.volumes ?? []) {
    const kinds = Object.keys(v).filter((k) => k !== 'name');
    if (!kinds.every((k) => RESTRICTED_VOLUME_KINDS.includes(k))) out.push(`volume ${v.name}: ${kinds.join(', ')}`);
  }
  return out;
}

/** Returns each of mcp-lok's own sandbox rules a pod spec breaks, beyond the standard's. */
export function findSandboxViolations(pod: IPodSpec): string[] {
  const out: string[] = [];
  if (pod.automountServiceAccountToken !== false) out.push('automountServiceAccountToken must be false');
  for (const c of pod.containers) {
    const at = `container ${c.name}`;
    if (c.securityContext?.readOnlyRootFilesystem !== true) out.push(`${at}: readOnlyRootFilesystem must be true`);
    if (!c.resources?.limits?.memory || !c.resources.limits.cpu) out.push(`${at}: memory and cpu limits`);
    const tmp = c.volumeMounts?.find((m) => m.mountPath === '/tmp');
    const tmpVolume = pod.volumes?.find((v) => v.name === tmp?.name);
    if (tmpVolume?.emptyDir?.medium !== 'Memory' || !tmpVolume.emptyDir.sizeLimit) out.push(`${at}: /tmp must be a capped memory-backed emptyDir`);
    if (c.securityContext?.runAsUser === undefined && pod.securityContext?.runAsUser === undefined) out.push(`${at}: a numeric user`);
  }
  return out;
}
