"""Renders the subset of Kustomize that k8s/ uses, without the kustomize binary.

Supported, and nothing else (anything more fails loudly, so the manifests
cannot silently outgrow the renderer):

- ``resources``: files of YAML documents and directories with a
  kustomization.yaml, rendered recursively;
- ``namespace``: set on every namespaced object;
- ``images``: ``name`` with ``newName`` and/or ``newTag``, applied to the
  containers of workloads;
- ``patches`` with a ``path``: strategic-merge patches whose target is the
  object of the same kind and name. Maps merge key by key, ``null`` deletes
  a key, lists of maps that all have a ``name`` merge by name (containers,
  env, volumes), any other list is replaced.

When a kustomize is at hand (``kubectl kustomize``), validate.py also
compares its output with this one.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

KNOWN_KEYS = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
# Kinds that live outside any namespace.
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}


class KustomizeError(Exception):
    pass


def load_documents(path: Path) -> list[dict[str, Any]]:
    with path.open() as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    for d in docs:
        if not isinstance(d, dict) or "kind" not in d or "metadata" not in d:
            raise KustomizeError(f"{path}: every document needs kind and metadata")
    return docs


def render(directory: Path) -> list[dict[str, Any]]:
    """The objects of the kustomization in `directory`, in resource order."""
    kfile = directory / "kustomization.yaml"
    if not kfile.is_file():
        raise KustomizeError(f"{directory} has no kustomization.yaml")
    spec = yaml.safe_load(kfile.read_text()) or {}
    unknown = set(spec) - KNOWN_KEYS
    if unknown:
        raise KustomizeError(f"{kfile}: unsupported fields {sorted(unknown)} (extend deploy/validate/kustomize.py)")

    objects: list[dict[str, Any]] = []
    for entry in spec.get("resources", []):
        target = (directory / entry).resolve()
        if target.is_dir():
            objects.extend(render(target))
        elif target.is_file():
            objects.extend(load_documents(target))
        else:
            raise KustomizeError(f"{kfile}: resource {entry} does not exist")

    seen: set[tuple[str, str]] = set()
    for obj in objects:
        key = (obj["kind"], obj["metadata"]["name"])
        if key in seen:
            raise KustomizeError(f"{kfile}: {key[0]}/{key[1]} is defined twice")
        seen.add(key)

    for patch in spec.get("patches", []):
        if set(patch) != {"path"}:
            raise KustomizeError(f"{kfile}: only `patches: - path: …` is supported, got {patch}")
        for doc in load_documents(directory / patch["path"]):
            apply_patch(objects, doc, kfile)

    for image in spec.get("images", []):
        set_image(objects, image, kfile)

    if "namespace" in spec:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj["metadata"]["namespace"] = spec["namespace"]
    return objects


def apply_patch(objects: list[dict[str, Any]], patch: dict[str, Any], where: Path) -> None:
    name = patch["metadata"]["name"]
    for i, obj in enumerate(objects):
        if obj["kind"] == patch["kind"] and obj["metadata"]["name"] == name:
            objects[i] = merge(obj, patch)
            return
    raise KustomizeError(f"{where}: the patch of {patch['kind']}/{name} matches no object")


def merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        out = copy.deepcopy(base)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            elif key in out:
                out[key] = merge(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(patch, list) and named(base) and named(patch):
        out = copy.deepcopy(base)
        index = {item["name"]: i for i, item in enumerate(out)}
        for item in patch:
            if item["name"] in index:
                out[index[item["name"]]] = merge(out[index[item["name"]]], item)
            else:
                out.append(copy.deepcopy(item))
        return out
    return copy.deepcopy(patch)


def named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(i, dict) and "name" in i for i in items)


def pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    spec = obj.get("spec", {})
    if obj["kind"] == "CronJob":
        return spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec")
    if obj["kind"] in WORKLOADS:
        return spec.get("template", {}).get("spec")
    return None


def set_image(objects: list[dict[str, Any]], image: dict[str, Any], where: Path) -> None:
    unknown = set(image) - {"name", "newName", "newTag"}
    if unknown:
        raise KustomizeError(f"{where}: unsupported image fields {sorted(unknown)}")
    for obj in objects:
        spec = pod_spec(obj)
        if spec is None:
            continue
        for container in spec.get("containers", []) + spec.get("initContainers", []):
            repo, tag = split_image(container.get("image", ""), where)
            if repo != image["name"]:
                continue
            repo = image.get("newName", repo)
            tag = str(image.get("newTag", tag))
            container["image"] = f"{repo}:{tag}" if tag else repo


def split_image(ref: str, where: Path) -> tuple[str, str]:
    """`registry:5000/name:tag` -> (`registry:5000/name`, `tag`)."""
    if "@" in ref:
        raise KustomizeError(f"{where}: image digests are not supported ({ref})")
    slash, colon = ref.rfind("/"), ref.rfind(":")
    return (ref[:colon], ref[colon + 1 :]) if colon > slash else (ref, "")
