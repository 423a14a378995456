#!/usr/bin/env python3
"""Builds the Winograd F(m, r) matrices (Aᵀ, G, Bᵀ) from a set of interpolation points (plus the
point at infinity) and estimates their rounding error in Float32: a 2-D convolution computed
with the transforms in Float32 against a Float64 direct convolution, as ‖Δ‖₂/‖ref‖₂ and
max|Δ|/max|ref|. This is how WinogradTiling.swift's points for F(2×2, 5×5) were chosen.

    python3 scripts/winograd_points.py
"""
import numpy as np
from fractions import Fraction as F
def mats(m, r, pts):
    a = m + r - 1
    pts=[F(p) for p in pts]
    AT=[[pts[j]**i for j in range(a-1)]+[F(1) if i==m-1 else F(0)] for i in range(m)]
    f=[ np.prod([pts[j]-pts[l] for l in range(a-1) if l!=j]) for j in range(a-1)]
    G=[[pts[j]**k / f[j] for k in range(r)] for j in range(a-1)] + [[F(1) if k==r-1 else F(0) for k in range(r)]]
    def polymul(p,q):
        out=[F(0)]*(len(p)+len(q)-1)
        for i,x in enumerate(p):
            for j,y in enumerate(q): out[i+j]+=x*y
        return out
    BT=[]
    for j in range(a-1):
        poly=[F(1)]
        for l in range(a-1):
            if l!=j: poly=polymul(poly,[-pts[l],F(1)])
        BT.append(poly+[F(0)])
    poly=[F(1)]
    for l in range(a-1): poly=polymul(poly,[-pts[l],F(1)])
    BT.append(poly)
    return AT,G,BT
def fl(M,dt): return np.array([[float(x) for x in row] for row in M],dtype=dt)
def sim(m,r,pts,C,K,H,pad,dt=np.float32):
    AT,G,BT=mats(m,r,pts); a=m+r-1
    rng=np.random.default_rng(1)
    x=rng.standard_normal((C,H,H)); w=rng.standard_normal((K,C,r,r))
    Ho=H+2*pad-r+1
    xp=np.zeros((C,H+2*pad+a,H+2*pad+a)); xp[:,pad:pad+H,pad:pad+H]=x
    ref=np.zeros((K,Ho,Ho))
    for i in range(r):
        for j in range(r):
            ref+=np.einsum('kc,chw->khw',w[:,:,i,j],xp[:,i:i+Ho,j:j+Ho])
    ATf,Gf,BTf=fl(AT,dt),fl(G,dt),fl(BT,dt)
    U=np.einsum('ai,kcij,bj->abkc',Gf,w.astype(dt),Gf)  # (a,a,K,C)
    T=(Ho+m-1)//m
    out=np.zeros((K,T*m,T*m),dtype=dt)
    xs=xp.astype(dt)
    for ty in range(T):
        for tx in range(T):
            d=xs[:,ty*m:ty*m+a,tx*m:tx*m+a]
            V=np.einsum('ai,cij,bj->abc',BTf,d,BTf)
            M=np.einsum('abkc,abc->abk',U,V)
            Y=np.einsum('ia,abk,jb->kij',ATf,M,ATf)
            out[:,ty*m:ty*m+m,tx*m:tx*m+m]=Y
    out=out[:,:Ho,:Ho].astype(np.float64)
    return np.linalg.norm(out-ref)/np.linalg.norm(ref), np.abs(out-ref).max()/np.abs(ref).max()
if __name__ == "__main__":
    for m, r, pts in [(2, 3, [0, 1, -1]), (2, 5, [0, 1, -1, 2, -2]), (2, 5, [0, 1, -1, 0.5, -0.5]),
                      (2, 5, [0, 1, -1, 2, -0.5]), (4, 3, [0, 1, -1, 2, -2]), (4, 3, [0, 1, -1, 0.5, -0.5])]:
        print(f"F({m}, {r}) points {pts}: 64 channels", sim(m, r, pts, 64, 8, 13, (r - 1) // 2))
        print(f"F({m}, {r}) points {pts}: 384 channels", sim(m, r, pts, 384, 4, 7, (r - 1) // 2))
