-- Argo CD health check for iot.awscc.io/SecurityProfile
-- (resource.customizations.health.iot.awscc.io_SecurityProfile). Lua 5.1.
--
-- Healthy      Ready=True and the current generation is reconciled, also while a resync of
--              that generation meets a transient error the operator retries.
-- Progressing  no status yet, generation not yet reconciled, Ready Unknown/missing, a
--              transient error the operator retries (Throttled, AwsError, VersionConflict,
--              KubernetesError), or a dependency not ready yet (WaitingForDependency).
-- Degraded     an error that waits for a change (InvalidSpec, AwsRejected, AlreadyExists,
--              OwnedByAnother, AccessDenied, AdoptionNotAllowed, Forbidden, any unknown
--              reason), or Ready=False while synced (an observed profile that is missing or
--              Drifted).
-- Suspended    paused with the iot.awscc.io/paused annotation (Synced=False, reason Paused).

local hs = {}

local transient = {
  Throttled = true,
  AwsError = true,
  VersionConflict = true,
  KubernetesError = true,
  WaitingForDependency = true,
}

local function find(conditions, kind)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function text(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return fallback
end

local status = obj.status
if status == nil or status.conditions == nil or #status.conditions == 0 then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to reconcile the SecurityProfile"
  return hs
end

local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to reconcile generation " .. tostring(generation)
  return hs
end

local ready = find(status.conditions, "Ready")
local synced = find(status.conditions, "Synced")

if synced ~= nil and synced.status == "False" then
  local reason = synced.reason or ""
  if reason == "Paused" then
    hs.status = "Suspended"
    hs.message = text(synced, "Paused by the iot.awscc.io/paused annotation")
  elseif transient[reason] and ready ~= nil and ready.status == "True" then
    -- A resync of this very generation failed for a moment: AWS matched it, and still does
    -- as far as anyone knows.
    hs.status = "Healthy"
    hs.message = text(ready, "The security profile matches the spec") .. " (retrying: " .. reason .. ")"
  elseif transient[reason] then
    hs.status = "Progressing"
    hs.message = reason .. ": " .. text(synced, "retrying")
  else
    hs.status = "Degraded"
    hs.message = reason .. ": " .. text(synced, "reconcile failed")
  end
  return hs
end

if ready == nil or ready.status == "Unknown" then
  hs.status = "Progressing"
  hs.message = text(ready, "Waiting for the security profile to become ready")
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = text(ready, "The security profile matches the spec")
  return hs
end

hs.status = "Degraded"
hs.message = (ready.reason or "NotReady") .. ": " .. text(ready, "The security profile is not ready")
return hs
