import type { Architecture } from '@/api/types'

const shape = (s: number[] | undefined) => (s ? s.join('×') : '?')

function Box({ x, y, w, label, sub, kind }: { x: number; y: number; w: number; label: string; sub: string; kind: 'plastic' | 'frozen' | 'tensor' | 'op' }) {
  const style = {
    plastic: { fill: 'rgba(34,211,238,0.10)', stroke: '#22d3ee', dash: undefined },
    frozen: { fill: 'rgba(161,161,170,0.08)', stroke: '#71717a', dash: '4 3' },
    tensor: { fill: 'transparent', stroke: 'transparent', dash: undefined },
    op: { fill: 'rgba(251,191,36,0.08)', stroke: '#b45309', dash: undefined },
  }[kind]
  return (
    <g>
      <rect x={x} y={y} width={w} height={46} rx={6} fill={style.fill} stroke={style.stroke} strokeDasharray={style.dash} />
      <text x={x + w / 2} y={y + 20} textAnchor="middle" fill="#f4f4f5" fontSize="13" fontFamily="ui-monospace, monospace">{label}</text>
      <text x={x + w / 2} y={y + 36} textAnchor="middle" fill="#a1a1aa" fontSize="10" fontFamily="ui-monospace, monospace">{sub}</text>
    </g>
  )
}

function Arrow({ x1, x2, y }: { x1: number; x2: number; y: number }) {
  return <path d={`M${x1},${y}L${x2 - 6},${y}M${x2 - 11},${y - 4}L${x2 - 5},${y}L${x2 - 11},${y + 4}`} stroke="#71717a" fill="none" strokeWidth={1.25} />
}

/**
 * [z, a] → W_u → u → B → decay·h + Bu → h' → W_o → ẑ. Plastic matrices (updated online)
 * are solid cyan, frozen parts dashed grey; tensor shapes under every stage.
 */
export function FlowDiagram({ arch }: { arch: Architecture }) {
  const s = arch.shapes
  const cfg = arch.model_cfg
  const zd = Number(cfg.z_dim ?? s.W_u?.[1] ?? 0)
  const inDim = s.W_u?.[1] ?? '?'
  const u = s.W_u?.[0] ?? cfg.u_dim ?? '?'
  const n = s.B?.[0] ?? cfg.n_state ?? '?'
  const out = s.W_o?.[0] ?? cfg.obs_dim ?? '?'
  const nodes: { w: number; label: string; sub: string; kind: 'plastic' | 'frozen' | 'tensor' | 'op' }[] = [
    { w: 92, label: '[z, a]', sub: `${inDim} = ${zd || '?'}+${Number(inDim) - zd || cfg.act_dim || '?'}`, kind: 'tensor' },
    { w: 86, label: 'W_u', sub: shape(s.W_u), kind: 'plastic' },
    { w: 58, label: 'u', sub: String(u), kind: 'tensor' },
    { w: 74, label: 'B', sub: shape(s.B), kind: 'plastic' },
    { w: 150, label: 'decay·h + Bu', sub: `decay ${shape(s.a_raw)} frozen`, kind: 'frozen' },
    { w: 58, label: "h'", sub: String(n), kind: 'tensor' },
    { w: 78, label: 'W_o', sub: shape(s.W_o), kind: 'plastic' },
    { w: 58, label: 'ẑ', sub: String(out), kind: 'tensor' },
  ]
  const gap = 26
  let x = 4
  const placed = nodes.map((nd) => {
    const p = { ...nd, x }
    x += nd.w + gap
    return p
  })
  const W = x - gap + 4
  return (
    <div className="overflow-x-auto">
      <svg width={W} height={104} viewBox={`0 0 ${W} 104`} role="img" aria-label={`Data flow: [z, a] (${inDim}) → W_u ${shape(s.W_u)} plastic → u (${u}) → B ${shape(s.B)} plastic → decay·h + Bu with frozen decay (${shape(s.a_raw)}) → h' (${n}) → W_o ${shape(s.W_o)} plastic → ẑ (${out})`} data-testid="flow-diagram">
        {placed.map((p, i) => (
          <g key={p.label}>
            <Box x={p.x} y={10} w={p.w} label={p.label} sub={p.sub} kind={p.kind} />
            {i < placed.length - 1 && <Arrow x1={p.x + p.w + 2} x2={placed[i + 1].x - 2} y={33} />}
          </g>
        ))}
        {/* recurrence h → decay·h */}
        <path d={`M${placed[5].x + 29},56 C${placed[5].x + 29},92 ${placed[4].x + 75},92 ${placed[4].x + 75},60`} stroke="#71717a" fill="none" strokeDasharray="3 3" />
        <text x={placed[4].x + 160} y={96} fill="#a1a1aa" fontSize="10">h carried to the next step</text>
        <g transform={`translate(4, 80)`} fontSize="10" fill="#a1a1aa">
          <rect width="10" height="10" rx="2" fill="rgba(34,211,238,0.15)" stroke="#22d3ee" />
          <text x="14" y="9">plastic (updated online by Muon)</text>
          <rect x="190" width="10" height="10" rx="2" fill="rgba(161,161,170,0.1)" stroke="#71717a" strokeDasharray="3 2" />
          <text x="204" y="9">frozen online</text>
        </g>
      </svg>
    </div>
  )
}
