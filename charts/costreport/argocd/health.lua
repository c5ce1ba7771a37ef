-- Argo CD health for CostReport and ClusterCostReport (costreport.io).
-- Healthy: Ready=True for the current generation. Degraded: Ready=False because the spec is
-- invalid or the report is stalled. Progressing: anything else (not computed yet, retrying).
local hs = {}
hs.status = "Progressing"
hs.message = "Waiting for the first computation"
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
local ready = nil
local stalled = nil
for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Ready" then ready = condition end
  if condition.type == "Stalled" then stalled = condition end
end
local current = obj.status.observedGeneration == obj.metadata.generation
if ready ~= nil and ready.status == "True" and current then
  hs.status = "Healthy"
  hs.message = ready.message or "Computed"
  return hs
end
if ready ~= nil and ready.status == "False" and
   (ready.reason == "InvalidSpec" or (stalled ~= nil and stalled.status == "True")) then
  hs.status = "Degraded"
  hs.message = ready.message or ready.reason
  return hs
end
if ready ~= nil and ready.status == "False" then
  hs.message = "Retrying: " .. (ready.message or ready.reason or "")
elseif not current then
  hs.message = "Waiting for the operator to compute the latest spec"
end
return hs
