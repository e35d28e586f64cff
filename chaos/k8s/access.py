"""Can the current identity do X? SelfSubjectAccessReviews, asked of the API server itself."""

from __future__ import annotations

from collections.abc import Iterable

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from chaos.errors import ClusterError
from chaos.k8s.client import Kube
from chaos.plan.permissions import Permission


def missing(kube: Kube, perms: Iterable[Permission]) -> list[Permission]:
    """The permissions the API server says this identity lacks."""
    api = client.AuthorizationV1Api(kube.api)
    lacking = []
    for p in perms:
        resource, _, sub = p.resource.partition("/")
        review = client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=client.V1ResourceAttributes(
                verb=p.verb, group=p.group, resource=resource, subresource=sub or None,
                namespace=p.namespace)))
        try:
            answer = api.create_self_subject_access_review(review)
        except (ApiException, HTTPError) as exc:
            raise ClusterError(f"cannot review permission {p}: {exc}") from exc
        if answer.status is None or not answer.status.allowed:
            lacking.append(p)
    return lacking
