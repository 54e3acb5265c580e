import { Card } from '@/components/ui/Card'
import { ErrorState, Loading } from '@/components/ui/States'
import type { NanoTabProps } from '@/types/nano'
import { useArchitecture } from '../api/architecture'
import { DecayHistogram } from './DecayHistogram'
import { FlowDiagram } from './FlowDiagram'
import { MuonExplainer } from './MuonExplainer'
import { ParamCounts } from './ParamCounts'

export function ArchitectureTab({ sessionId }: NanoTabProps) {
  const q = useArchitecture(sessionId)
  if (q.error) return <ErrorState error={q.error} what="architecture" />
  if (!q.data) return <Loading what="architecture" />
  const a = q.data
  return (
    <div className="space-y-3" data-testid="architecture">
      <Card id="flow" title="Diagonal stable SSM: data flow" subtitle="h' = decay ⊙ h + B·W_u·[z; a],  ẑ = W_o·h'">
        <FlowDiagram arch={a} />
      </Card>
      <div className="grid grid-cols-1 gap-3 lg:grid-cols-3">
        <Card id="decay" title="Stability: decay per state">
          <DecayHistogram decay={a.decay} />
        </Card>
        <Card id="params" title="Parameters">
          <ParamCounts counts={a.param_counts} shapes={a.shapes} />
        </Card>
        <Card id="muon" title="Optimizer: Muon">
          <MuonExplainer muon={a.muon} plasticity={a.plasticity_cfg} />
        </Card>
      </div>
    </div>
  )
}
